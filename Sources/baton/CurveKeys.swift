import ArgumentParser
import BatonKeys
import Foundation
import ZeroMQ

/// The CURVE keys of a client or worker command: the broker's public key and this
/// peer's own pair, from `--curve-server` (the broker's `.key`, or its Z85 key as text)
/// and `--curve-secret` (this peer's `.key_secret`). Nil: plain tcp.
///
/// A broker with CURVE admits only listed keys (spec §3.5), so a made-up key pair would
/// only ever time out: `--curve-server` without `--curve-secret` is refused here, with
/// the reason, instead.
func curveKeys(server: String?, secret: String?) throws -> (serverKey: String, publicKey: String, secretKey: String)? {
    guard let server else {
        if secret != nil { throw ValidationError("--curve-secret needs --curve-server (the broker's NAME.key)") }
        return nil
    }
    guard let secret else {
        throw ValidationError("--curve-server needs --curve-secret: this key's NAME.key_secret (make one with `baton keygen DIR NAME`; the broker must list its NAME.key)")
    }
    let own = try readSecretCertificate(secret, flag: "--curve-secret")
    return (try serverPublicKey(server), own.publicKey, own.secretKey!)
}

/// The broker's public key: a certificate file, or the 40-character Z85 key itself.
private func serverPublicKey(_ value: String) throws -> String {
    if !FileManager.default.fileExists(atPath: value), Z85.decode(key: value) != nil { return value }
    do {
        return try CurveCertificate.read(path: value).publicKey
    } catch {
        throw ValidationError("--curve-server: \(error)")
    }
}
