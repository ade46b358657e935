// The frame around every Glimpse message: an 8-byte header, then a protobuf envelope.
import Foundation
import GlimpseCore
import SwiftProtobuf

/// Frame layout (also in README.md and proto/glimpse/v1/glimpse.proto):
///
///     offset  size  field
///     0       4     magic "GLMP" (47 4C 4D 50)
///     4       1     version, 1
///     5       1     kind: 1 request, 2 response
///     6       2     flags, little-endian, 0
///     8       ...   RequestEnvelope or ResponseEnvelope, protobuf
public enum Frame {
    public static let magic: [UInt8] = Array("GLMP".utf8)
    public static let version: UInt8 = 1
    public static let headerSize = 8

    public enum Kind: UInt8, Sendable {
        case request = 1
        case response = 2
    }

    public static func header(_ kind: Kind) -> [UInt8] {
        magic + [version, kind.rawValue, 0, 0]
    }

    public static func encode(_ envelope: Glimpse_V1_RequestEnvelope) -> [UInt8] {
        header(.request) + ((try? envelope.serializedBytes()) ?? [])
    }

    public static func encode(_ envelope: Glimpse_V1_ResponseEnvelope) -> [UInt8] {
        header(.response) + ((try? envelope.serializedBytes()) ?? [])
    }

    /// Checks the header and returns the envelope's bytes.
    static func body(_ bytes: UnsafeRawBufferPointer, expecting kind: Kind) throws(FrameError) -> UnsafeRawBufferPointer {
        guard bytes.count >= headerSize else { throw .tooShort(bytes.count) }
        guard bytes.prefix(4).elementsEqual(magic) else { throw .badMagic(Array(bytes.prefix(4))) }
        guard bytes[4] == version else { throw .unsupportedVersion(bytes[4]) }
        guard bytes[5] == kind.rawValue else { throw .wrongKind(bytes[5], expected: kind) }
        let flags = UInt16(bytes[6]) | UInt16(bytes[7]) << 8
        guard flags == 0 else { throw .unknownFlags(flags) }
        return UnsafeRawBufferPointer(rebasing: bytes[headerSize...])
    }

    public static func decodeRequest(_ bytes: UnsafeRawBufferPointer) throws(FrameError) -> Glimpse_V1_RequestEnvelope {
        let body = try body(bytes, expecting: .request)
        // Parsed straight from the received buffer: the payload is copied once, into the envelope.
        do { return try Glimpse_V1_RequestEnvelope(serializedBytes: body) } catch {
            throw .malformedEnvelope("\(error)")
        }
    }

    public static func decodeResponse(_ bytes: UnsafeRawBufferPointer) throws(FrameError) -> Glimpse_V1_ResponseEnvelope {
        let body = try body(bytes, expecting: .response)
        do { return try Glimpse_V1_ResponseEnvelope(serializedBytes: body) } catch {
            throw .malformedEnvelope("\(error)")
        }
    }
}

public enum FrameError: StatusError, Equatable {
    case tooShort(Int)
    case badMagic([UInt8])
    case unsupportedVersion(UInt8)
    case wrongKind(UInt8, expected: Frame.Kind)
    case unknownFlags(UInt16)
    case malformedEnvelope(String)

    public var status: StatusCode { .invalidArgument }

    public var description: String {
        switch self {
        case let .tooShort(n): "frame of \(n) bytes is shorter than the 8-byte header"
        case let .badMagic(m): "frame starts with \(m.map { String(format: "%02X", $0) }.joined(separator: " ")), not the magic 47 4C 4D 50 (\"GLMP\")"
        case let .unsupportedVersion(v): "frame version \(v) is not supported (this server speaks version \(Frame.version))"
        case let .wrongKind(k, expected): "frame kind \(k) where \(expected.rawValue) (\(expected)) was expected"
        case let .unknownFlags(f): "frame has unknown flags 0x\(String(f, radix: 16))"
        case let .malformedEnvelope(why): "frame envelope is not valid protobuf: \(why)"
        }
    }
}

/// The methods, named as gRPC names them on the wire.
public enum Method: String, Sendable, CaseIterable {
    case classify = "/glimpse.v1.Glimpse/Classify"
    case infer = "/glimpse.v1.Glimpse/Infer"
    case listModels = "/glimpse.v1.Glimpse/ListModels"
    case modelMetadata = "/glimpse.v1.Glimpse/ModelMetadata"
    case health = "/glimpse.v1.Glimpse/Health"
    case stats = "/glimpse.v1.Glimpse/Stats"
}

/// Metadata keys the server understands.
public enum MetadataKey {
    /// "no" in a request: neither read nor fill the result cache.
    public static let cache = "glimpse-cache"
}
