import DiffusionCore

/// The experiment's sizes, bounded before any pair is drawn (see `Budget`).
extension MorphConfig {
  /// Stated maxima of the count fields.
  func validateCounts() throws {
    try Budget.count(pairs, "pairs", maximum: Budget.Limit.pairs)
    try Budget.count(tuningPairs, "tuning_pairs", maximum: Budget.Limit.pairs)
    try Budget.count(impostorPairs, "impostor_pairs", maximum: Budget.Limit.calibrationPairs)
    try Budget.count(genuinePairs, "genuine_pairs", maximum: Budget.Limit.calibrationPairs)
    try Budget.count(gridRows, "grid_rows", maximum: Budget.Limit.gridRows)
    try Budget.count(unetReferenceEvery, "unet_reference_every", minimum: 0, maximum: Budget.Limit.steps)
  }

  /// Numbers held per image by a recognizer's batched embedding (its convolution activations), an upper estimate.
  static let embeddingNumbersPerPixel = 32.0

  /// A memory estimate of the experiment for images of `dataDimension` pixels: calibration embeds every impostor
  /// (and genuine) pair as two batches of images; the evaluation and tuning pairs hold their endpoints, and per
  /// method and blend weight a morph and its x_T. Refused above the machine's memory, naming the largest part.
  public func checkMemory(dataDimension d: Int, available: Int = Budget.physicalMemory) throws {
    let image = 8 * Double(d)
    let calibration = Double(max(impostorPairs, genuinePairs)) * 2 * image * (1 + Self.embeddingNumbersPerPixel)
    let perPair = image * (4 + 2 * Double(methods.count) * Double(max(1, settings.blendWeights.count)))
    let pairSets = Double(pairs + tuningPairs) * perPair
    let field = calibration >= pairSets ? "impostor_pairs" : (tuningPairs > pairs ? "tuning_pairs" : "pairs")
    try Budget.checkMemory(
      calibration + pairSets, field,
      what: "the experiment (\(impostorPairs) impostor and \(genuinePairs) genuine calibration pairs, \(pairs) + \(tuningPairs) morph pairs of \(d) pixels)",
      available: available)
  }
}
