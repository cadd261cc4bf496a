/// Nearest-neighbour 2x upsampling (F.interpolate(scale_factor=2, mode="nearest")): `y[2i+a][2j+b] = x[i][j]`.
enum NearestUpsample2x {
  static func forward<S: BLASScalar>(_ x: Activation<S>) -> Activation<S> {
    let h = x.height, w = x.width, planes = x.channels * x.batch
    var y = [S](repeating: 0, count: x.count * 4)
    x.data.withUnsafeBufferPointer { xp in
      y.withUnsafeMutableBufferPointer { yp in
        for plane in 0..<planes {
          let src = xp.baseAddress! + plane * h * w, dst = yp.baseAddress! + plane * 4 * h * w
          for i in 0..<h {
            let row0 = dst + (2 * i) * 2 * w, row1 = row0 + 2 * w
            for j in 0..<w {
              let v = src[i * w + j]
              row0[2 * j] = v
              row0[2 * j + 1] = v
              row1[2 * j] = v
              row1[2 * j + 1] = v
            }
          }
        }
      }
    }
    return Activation(channels: x.channels, batch: x.batch, height: 2 * h, width: 2 * w, data: y)
  }

  /// The adjoint: each input pixel receives the sum of its four copies' gradients.
  static func backward<S: BLASScalar>(_ dy: Activation<S>) -> Activation<S> {
    let h = dy.height / 2, w = dy.width / 2, planes = dy.channels * dy.batch
    var dx = [S](repeating: 0, count: dy.count / 4)
    dy.data.withUnsafeBufferPointer { gp in
      dx.withUnsafeMutableBufferPointer { dp in
        for plane in 0..<planes {
          let src = gp.baseAddress! + plane * 4 * h * w, dst = dp.baseAddress! + plane * h * w
          for i in 0..<h {
            let row0 = src + (2 * i) * 2 * w, row1 = row0 + 2 * w
            for j in 0..<w { dst[i * w + j] = row0[2 * j] + row0[2 * j + 1] + row1[2 * j] + row1[2 * j + 1] }
          }
        }
      }
    }
    return Activation(channels: dy.channels, batch: dy.batch, height: h, width: w, data: dx)
  }
}

/// diffusers' Upsample2D (use_conv): nearest 2x, then a 3x3 convolution `conv` with padding 1.
struct Upsample2D: Sendable {
  let conv: Conv2D
  init(_ layout: inout ParameterLayout, _ prefix: String, channels: Int) {
    conv = Conv2D(&layout, prefix + ".conv", channels, channels, kernel: 3, pad: 1)
  }
  /// Returns the output and the upsampled input of the convolution (for the reverse pass).
  func forward<S: BLASScalar>(_ x: Activation<S>, _ p: UnsafePointer<S>) -> (Activation<S>, Activation<S>) {
    let up = NearestUpsample2x.forward(x)
    return (conv.forward(up, p), up)
  }
  func backward<S: BLASScalar>(_ dy: Activation<S>, upsampled: Activation<S>, _ p: UnsafePointer<S>, _ g: UnsafeMutablePointer<S>?) -> Activation<S> {
    NearestUpsample2x.backward(conv.backward(dy, input: upsampled, p, g))
  }
}

/// diffusers' Downsample2D (use_conv): a 3x3 stride-2 convolution `conv` with padding p; p = 0 pads only the
/// right and bottom by one (F.pad(x, (0, 1, 0, 1))), as diffusers does.
struct Downsample2D: Sendable {
  let conv: Conv2D
  init(_ layout: inout ParameterLayout, _ prefix: String, channels: Int, padding: Int) {
    let pads = padding == 0 ? (0, 0, 1, 1) : (padding, padding, padding, padding)
    conv = Conv2D(&layout, prefix + ".conv", channels, channels, kernel: 3, stride: 2, padding: pads)
  }
}
