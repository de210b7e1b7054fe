#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

private let slash = UInt8(ascii: "/")
private let dot = UInt8(ascii: ".")

/// The directory the file job types (`file.write`, `append`) are confined to, given to
/// the worker with `--file-root`, and the one way to turn a job's `path` arg into a file
/// inside it.
///
/// A job's `path` comes from whoever may submit workflows, and the worker may run as
/// root: unconfined, one job replaced a device file. So a `path`:
/// - is relative to the root: not empty, no NUL byte, not absolute, no `..` component,
///   not ending in `/` (`.` and repeated `/` are harmless and ignored);
/// - names a file whose directory, all symbolic links resolved, is the root or inside it
///   (a link that stays inside the root is followed; one that leaves it is refused);
/// - names either nothing yet (the job creates a regular file) or a regular file with a
///   single link: never a symbolic link (opened with `O_NOFOLLOW`), a directory, a FIFO,
///   a device or a socket, and never a hard link that may share its inode with a file
///   outside the root. Kinds are checked with `lstat` before the open (opening a device
///   or a FIFO can have effects of its own) and again with `fstat` on what was opened.
///
/// Failure mode left open: the directory is resolved, checked, then opened; a local user
/// who can write inside the root could swap a directory for a symbolic link in between.
/// The root must therefore be writable only by the worker's user (jobs themselves can
/// create only regular files, never links).
public struct FileRoot: Sendable {
    /// The root, absolute and with every symbolic link resolved.
    public let path: String

    /// Checks that `path` is an existing directory other than `/` (which would confine
    /// nothing).
    public init(_ path: String) throws(FileRootError) {
        guard let real = Self.realPath(path) else { throw .rootUnusable(path, errno: errno) }
        var info = stat()
        guard stat(real, &info) == 0 else { throw .rootUnusable(path, errno: errno) }
        guard info.st_mode & S_IFMT == S_IFDIR else { throw .rootNotADirectory(path) }
        guard real != "/" else { throw .rootIsSlash }
        self.path = real
    }

    /// The file `relative` names under the root, with its directory open: refused with a
    /// `FileRootError` when it breaks a rule above.
    public func file(_ relative: String) throws(FileRootError) -> ConfinedFile {
        let (directories, name) = try Self.components(of: relative)
        let directory = directories.isEmpty ? path : path + "/" + directories.joined(separator: "/")
        guard let real = Self.realPath(directory) else { throw .io("resolve its directory", errno: errno) }
        guard Self.isSameOrInside(real, path) else { throw .leavesRoot }
        let fd = open(real, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw .io("open its directory", errno: errno) }
        return ConfinedFile(directory: fd, name: name)
    }

    /// A relative path's directory components and its last one, by the rules above.
    ///
    /// Works on UTF-8 bytes, as the kernel does, never on `Character`s: Swift joins a
    /// combining mark to the `/` before it into one `Character`, so a `Character` split
    /// of `"../\u{301}x"` sees a single component (not `..`) that the kernel would
    /// still walk up through.
    static func components(of relative: String) throws(FileRootError) -> (directories: [String], name: String) {
        let bytes = relative.utf8
        guard !bytes.isEmpty else { throw .empty }
        guard !bytes.contains(0) else { throw .nulByte }
        guard bytes.first != slash else { throw .absolute }
        guard bytes.last != slash else { throw .namesADirectory }
        let parts = bytes.split(separator: slash).filter { !$0.elementsEqual([dot]) }
        guard !parts.contains(where: { $0.elementsEqual([dot, dot]) }) else { throw .parentComponent }
        guard let name = parts.last else { throw .namesADirectory }
        return (parts.dropLast().map { String(decoding: $0, as: UTF8.self) }, String(decoding: name, as: UTF8.self))
    }

    /// Byte-wise, for the same reason as `components`: `String.hasPrefix` compares
    /// canonically equivalent names as equal, and the file system does not.
    private static func isSameOrInside(_ candidate: String, _ root: String) -> Bool {
        candidate.utf8.elementsEqual(root.utf8) || candidate.utf8.starts(with: root.utf8 + [slash])
    }

    private static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

/// A file under a `FileRoot`: its directory, open, and its name there. Every operation
/// works relative to the open directory and refuses anything but a regular file.
public final class ConfinedFile {
    private let directory: Int32
    public let name: String

    fileprivate init(directory: Int32, name: String) {
        self.directory = directory
        self.name = name
    }

    deinit { close(directory) }

    /// The file's bytes, or nil when there is no such file.
    public func contents() throws(FileRootError) -> [UInt8]? {
        guard try exists() else { return nil }
        let fd = try openChecked(O_RDONLY)
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw .io("read it", errno: errno) }
            if n == 0 { return bytes }
            bytes += chunk[0..<n]
        }
    }

    /// Replaces the file with `bytes` through a temporary file in the same directory,
    /// synced and renamed over it: a reader or a crash sees the old content or the new,
    /// never a part. The rename replaces a directory entry and so never writes through
    /// one; a non-regular file at the name is still refused rather than replaced.
    public func replace(with bytes: [UInt8]) throws(FileRootError) {
        _ = try exists()
        let temporary = ".\(name).baton-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let fd = openat(directory, temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io("create a temporary file beside it", errno: errno) }
        var failure: FileRootError?
        if !Self.writeAll(fd, bytes) {
            failure = .io("write it", errno: errno)
        } else if fsync(fd) != 0 {
            failure = .io("sync it", errno: errno)
        }
        close(fd)
        if failure == nil && renameat(directory, temporary, directory, name) != 0 {
            failure = .io("rename the temporary file over it", errno: errno)
        }
        if let failure {
            unlinkat(directory, temporary, 0)
            throw failure
        }
    }

    /// Appends `bytes` with one `write` on an `O_APPEND` descriptor, creating the file if
    /// needed, so lines from several processes never interleave.
    public func append(_ bytes: [UInt8]) throws(FileRootError) {
        _ = try exists()
        let fd = try openChecked(O_WRONLY | O_CREAT | O_APPEND)
        defer { close(fd) }
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw .io("append to it", errno: errno) }
    }

    /// True when the name is a regular file with one link, false when it names nothing;
    /// refuses anything else without opening it.
    private func exists() throws(FileRootError) -> Bool {
        var info = stat()
        guard fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
            if errno == ENOENT { return false }
            throw .io("look at it", errno: errno)
        }
        try Self.checkRegular(info)
        return true
    }

    /// Opens the name (never through a symbolic link, never blocking on a FIFO) and
    /// checks what was opened: the name may have changed since `exists`.
    private func openChecked(_ flags: Int32) throws(FileRootError) -> Int32 {
        let fd = openat(directory, name, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            if errno == ELOOP { throw .notARegularFile("a symbolic link") }
            throw .io("open it", errno: errno)
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let code = errno
            close(fd)
            throw .io("look at it", errno: code)
        }
        do {
            try Self.checkRegular(info)
        } catch {
            close(fd)
            throw error
        }
        return fd
    }

    private static func checkRegular(_ info: stat) throws(FileRootError) {
        let kind = info.st_mode & S_IFMT
        guard kind == S_IFREG else { throw .notARegularFile(describe(kind)) }
        guard info.st_nlink == 1 else { throw .hardLinked(Int(info.st_nlink)) }
    }

    private static func describe(_ kind: mode_t) -> String {
        switch kind {
        case S_IFDIR: "a directory"
        case S_IFLNK: "a symbolic link"
        case S_IFIFO: "a FIFO"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFSOCK: "a socket"
        default: "not a regular file"
        }
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            offset += n
        }
        return true
    }
}

/// Why a file job's `path` (or a worker's `--file-root`) was refused, or what failed.
/// Every case but `io` is the client's or the operator's mistake, and never retryable.
public enum FileRootError: Error, Equatable, CustomStringConvertible {
    /// `--file-root` does not exist or cannot be resolved.
    case rootUnusable(String, errno: Int32)
    /// `--file-root` is not a directory.
    case rootNotADirectory(String)
    /// `--file-root /` confines nothing.
    case rootIsSlash
    /// The path is empty.
    case empty
    /// The path holds a NUL byte (C would cut it there).
    case nulByte
    /// The path starts with `/`: paths are relative to the root.
    case absolute
    /// A `..` component.
    case parentComponent
    /// The path ends in `/` or names only `.`.
    case namesADirectory
    /// The file's directory, symbolic links resolved, is outside the root. Says no more:
    /// the message goes back to the client, and where the link leads is not its business.
    case leavesRoot
    /// The name is a symbolic link, directory, FIFO, device or socket.
    case notARegularFile(String)
    /// A regular file with this many links: one of them may be outside the root.
    case hardLinked(Int)
    /// A system call failed on a path that broke no rule (e.g. a missing directory, a
    /// full disk): possibly transient, so retryable.
    case io(String, errno: Int32)

    public var isRetryable: Bool {
        if case .io = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .rootUnusable(let path, let code): "--file-root \(path): \(String(cString: strerror(code)))"
        case .rootNotADirectory(let path): "--file-root \(path): not a directory"
        case .rootIsSlash: "--file-root /: the whole file system is no confinement"
        case .empty: "empty"
        case .nulByte: "contains a NUL byte"
        case .absolute: "absolute; paths are relative to the worker's --file-root"
        case .parentComponent: "contains a .. component"
        case .namesADirectory: "names a directory, not a file"
        case .leavesRoot: "its directory is outside the worker's --file-root (through a symbolic link)"
        case .notARegularFile(let kind): "is \(kind), not a regular file"
        case .hardLinked(let links): "is a regular file with \(links) hard links; only single-link files are written"
        case .io(let operation, let code): "cannot \(operation): \(String(cString: strerror(code)))"
        }
    }
}
