// Memory in 2 MB pages where the kernel allows it: weights and arenas that a run sweeps end to end.
#if canImport(Glibc)
import Glibc
#endif

/// An anonymous mapping aligned to 2 MB and advised as huge-page memory (Linux THP in "madvise"
/// mode), so a forward pass that streams ~20 MB of weights walks ~10 pages instead of ~5000.
final class HugeRegion: @unchecked Sendable {
    static let pageBytes = 2 << 20
    let base: UnsafeMutableRawPointer
    let bytes: Int
    private let mapping: UnsafeMutableRawPointer
    private let mappedBytes: Int

    init(bytes: Int) {
        let size = (max(bytes, 1) + Self.pageBytes - 1) / Self.pageBytes * Self.pageBytes
        mappedBytes = size + Self.pageBytes
        guard let raw = mmap(nil, mappedBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              raw != MAP_FAILED else { fatalError("mmap of \(mappedBytes) bytes failed") }
        mapping = raw
        let address = (Int(bitPattern: raw) + Self.pageBytes - 1) / Self.pageBytes * Self.pageBytes
        base = UnsafeMutableRawPointer(bitPattern: address)!
        self.bytes = size
        _ = madvise(base, size, MADV_HUGEPAGE) // advice only: without THP these stay 4 KB pages
    }

    deinit { munmap(mapping, mappedBytes) }
}
