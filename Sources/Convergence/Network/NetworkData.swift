import DiffusionCore
import Foundation
import NeuralCore
import ToyModels

/// The data a network is trained on and compared with: an image-shaped Gaussian mixture and the UNet layout that
/// models it.
public enum NetworkData {
  /// Throws unless the UNet takes the mixture's images and conditioning: in = out channels = 1,
  /// sample_size = the image side (or null), and an identity class embedding of size z_dim exactly when conditioned.
  public static func check(_ unet: UNetConfig, fits data: ImageMixtureConfig) throws {
    try unet.validate()
    guard unet.inChannels == 1 else { throw InvalidInput("in_channels", "the data are 1-channel images, the model config has \(unet.inChannels)") }
    guard unet.outChannels == 1 else { throw InvalidInput("out_channels", "the data are 1-channel images, the model config has \(unet.outChannels)") }
    if let s = unet.sampleSize, s != data.size {
      throw InvalidInput("sample_size", "the data are \(data.size) x \(data.size) images, the model config has sample_size \(s)")
    }
    let multiple = 1 << (unet.blockOutChannels.count - 1)
    guard data.size % multiple == 0 else {
      throw InvalidInput("sample_size", "\(data.size) is not a multiple of \(multiple) (\(unet.blockOutChannels.count - 1) downsamplings)")
    }
    switch (data.condition, unet.classEmbedIdentity) {
    case (true, false):
      throw InvalidInput("class_embed_type", "the data are conditioned (z of size \(data.zDimension)): the model needs class_embed_type \"identity\"")
    case (false, true):
      throw InvalidInput("class_embed_type", "the data are unconditioned: the model must not have a class embedding")
    case (true, true) where unet.timeEmbedDim != data.zDimension:
      throw InvalidInput("z_dim", "the identity class embedding takes z of size time_embed_dim = \(unet.timeEmbedDim), the data config has z_dim \(data.zDimension)")
    default: break
    }
  }

  /// Exact samples for training: unconditioned, B draws of p_0; conditioned, a class k uniform in 0..<K per image,
  /// z its one-hot vector and x_0 a draw of p_0(x | z).
  public static func source(_ mixture: GaussianMixture, _ data: ImageMixtureConfig) -> TrainingDataSource {
    { batch, rng in
      guard data.condition else { return (try mixture.sample(count: batch, z: [], generator: &rng), []) }
      var z: [Double] = []
      for _ in 0..<batch { z += ImageMixture.classCondition(Int(rng.next() % UInt64(data.K)), data) }
      return (try mixture.sample(count: batch, z: z, generator: &rng), z)
    }
  }
}
