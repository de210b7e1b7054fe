/// Who sent a client request, as far as the engine needs to know: the name its key goes
/// by (stored as the owner of what it submits) and whether it is an admin.
///
/// The server derives it from the connection's CURVE key (ZAP `User-Id`, looked up in
/// the key ring of the moment). In plain mode there is no key to tell callers apart:
/// every caller is `.plain`, an admin without a name (shared/design.md).
public struct Caller: Equatable, Hashable, Sendable {
    /// The key's name; nil in plain mode.
    public var name: String?
    /// Admin: every workflow, plus STOP, RESUME and the operator commands.
    public var isAdmin: Bool

    public init(name: String?, isAdmin: Bool) {
        self.name = name
        self.isAdmin = isAdmin
    }

    public static let plain = Caller(name: nil, isAdmin: true)

    /// Whether this caller may see and act on a workflow owned by `owner`. A client
    /// key sees only its own; workflows stored in plain mode (no owner) only admins.
    public func mayAccess(owner: String?) -> Bool { isAdmin || (name != nil && owner == name) }

    /// The owner filter its reads get: nil (everything) for admins, its name otherwise.
    var readFilter: OwnerFilter { isAdmin ? .any : .only(name) }
}

/// Which owners' workflows a deferred read may show.
public enum OwnerFilter: Equatable, Sendable {
    case any
    /// Only workflows of this owner (nil matches no stored workflow with an owner, nor
    /// one without: a nameless non-admin sees nothing).
    case only(String?)

    public func admits(_ owner: String?) -> Bool {
        switch self {
        case .any: true
        case .only(let name): name != nil && owner == name
        }
    }
}
