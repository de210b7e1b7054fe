/// A coding key for any mapping key, so decoders can list the keys a file really holds
/// and refuse those they do not know: a typo must never silently drop a setting.
struct ConfigKey: CodingKey, Hashable {
    let stringValue: String
    let intValue: Int?

    init(_ string: String) {
        stringValue = string
        intValue = nil
    }

    init?(stringValue: String) { self.init(stringValue) }

    init?(intValue: Int) {
        stringValue = String(intValue)
        self.intValue = intValue
    }
}

extension Decoder {
    /// The mapping at this decoder, after checking that it holds no key outside `known`.
    /// The error's coding path ends at the unknown key, so its line is the key's line.
    func strictContainer(known: [String]) throws -> KeyedDecodingContainer<ConfigKey> {
        let c = try container(keyedBy: ConfigKey.self)
        for key in c.allKeys where !known.contains(key.stringValue) {
            throw invalid(c.codingPath + [key], "unknown key (known keys: \(known.joined(separator: ", ")))")
        }
        return c
    }
}

extension KeyedDecodingContainer where Key == ConfigKey {
    func optional<T: Decodable>(_ key: String, as type: T.Type = T.self) throws -> T? {
        try decodeIfPresent(T.self, forKey: ConfigKey(key))
    }

    func required<T: Decodable>(_ key: String, as type: T.Type = T.self) throws -> T {
        try decode(T.self, forKey: ConfigKey(key))
    }

    /// The path of `key` inside this container, for errors found after decoding a value.
    func path(_ key: String) -> [any CodingKey] { codingPath + [ConfigKey(key)] }
}

/// A validation failure at `path`; `ConfigLoader` turns it into a `ConfigError` with the line.
func invalid(_ path: [any CodingKey], _ message: String) -> DecodingError {
    .dataCorrupted(DecodingError.Context(codingPath: path, debugDescription: message))
}
