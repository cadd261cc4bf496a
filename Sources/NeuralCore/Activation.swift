/// A batch of feature maps stored channel-major, (C, B, H, W): channel c of image b starts at `(c * B + b) * H * W`.
///
/// The network keeps every activation in this layout so that a convolution over the whole batch is one matrix
/// product (C_out x C_in k^2) (C_in k^2 x B H W), channel concatenation is an append, and attention reads each
/// image's tokens as a strided matrix. `fromNCHW` and `toNCHW` convert at the model's boundary.
public struct Activation<Scalar: BLASScalar>: Sendable {
  public var channels: Int
  public var batch: Int
  public var height: Int
  public var width: Int
  public var data: [Scalar]

  public init(channels: Int, batch: Int, height: Int, width: Int, data: [Scalar]) {
    precondition(data.count == channels * batch * height * width, "activation size")  // invariant
    self.channels = channels
    self.batch = batch
    self.height = height
    self.width = width
    self.data = data
  }

  public init(zeros channels: Int, batch: Int, height: Int, width: Int) {
    self.init(
      channels: channels, batch: batch, height: height, width: width,
      data: [Scalar](repeating: 0, count: channels * batch * height * width))
  }

  /// H W, the number of pixels of one image.
  @inlinable public var pixels: Int { height * width }
  /// B H W, the columns of the (C, B H W) matrix view.
  @inlinable public var columns: Int { batch * height * width }
  @inlinable public var count: Int { data.count }

  /// From the usual (B, C, H, W) order.
  public static func fromNCHW(_ values: [Scalar], batch: Int, channels: Int, height: Int, width: Int) -> Activation {
    let hw = height * width
    var out = [Scalar](repeating: 0, count: values.count)
    for b in 0..<batch {
      for c in 0..<channels {
        let src = (b * channels + c) * hw, dst = (c * batch + b) * hw
        for i in 0..<hw { out[dst + i] = values[src + i] }
      }
    }
    return Activation(channels: channels, batch: batch, height: height, width: width, data: out)
  }

  /// To the usual (B, C, H, W) order.
  public func toNCHW() -> [Scalar] {
    let hw = pixels
    var out = [Scalar](repeating: 0, count: data.count)
    for b in 0..<batch {
      for c in 0..<channels {
        let src = (c * batch + b) * hw, dst = (b * channels + c) * hw
        for i in 0..<hw { out[dst + i] = data[src + i] }
      }
    }
    return out
  }

  /// Channel concatenation `[self, other]` (torch.cat(dim=1)); in this layout an append.
  public func concatenatingChannels(_ other: Activation) -> Activation {
    precondition(batch == other.batch && height == other.height && width == other.width, "concat shapes")  // invariant
    return Activation(channels: channels + other.channels, batch: batch, height: height, width: width, data: data + other.data)
  }

  /// Channels `[start, start + n)`, the inverse of concatenation (used to split a gradient).
  public func channelSlice(_ start: Int, _ n: Int) -> Activation {
    let per = columns
    return Activation(channels: n, batch: batch, height: height, width: width, data: Array(data[start * per..<(start + n) * per]))
  }

  /// Elementwise `self += other`.
  public mutating func add(_ other: Activation) {
    precondition(data.count == other.data.count, "add shapes")  // invariant
    data.withUnsafeMutableBufferPointer { d in
      other.data.withUnsafeBufferPointer { o in
        for i in 0..<d.count { d[i] += o[i] }
      }
    }
  }

  /// Elementwise `self *= s`.
  public mutating func scale(by s: Scalar) {
    if s == 1 { return }
    data.withUnsafeMutableBufferPointer { d in
      for i in 0..<d.count { d[i] *= s }
    }
  }
}
