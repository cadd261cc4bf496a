import Foundation

/// glibc malloc tuning for the network's large, short-lived buffers (activations and im2col columns of up to
/// 32 MB): serve them from the heap and keep freed memory there instead of mapping fresh zeroed pages on every
/// allocation (page faults cost ~10% of a UNet pass). Applied once, when the first UNet is built; a no-op where
/// glibc's mallopt is absent.
enum MemoryTuning {
  static func keepFreedMemory() { _ = applied }

  private static let applied: Bool = {
    typealias MallOpt = @convention(c) (Int32, Int32) -> Int32
    guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "mallopt") else { return false }
    let mallopt = unsafeBitCast(symbol, to: MallOpt.self)
    let trimThreshold: Int32 = -1, mmapThreshold: Int32 = -3  // glibc's M_TRIM_THRESHOLD, M_MMAP_THRESHOLD
    return mallopt(mmapThreshold, 32 << 20) == 1 && mallopt(trimThreshold, Int32.max) == 1
  }()
}
