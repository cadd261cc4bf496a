import DiffusionCore
import Foundation
import XCTest

@testable import NeuralCore

/// The CNN identity recognizer: its input VJP and loss gradient against central finite differences (float64),
/// unit embeddings, batch independence, training on a separable problem, save/load and every bad input.
final class RecognizerTests: XCTestCase {
  static func config(imageSize: Int = 8, width: Int = 3, embedding: Int = 5, classes: Int = 3, seed: UInt64 = 7,
                     scale: Double = 16, margin: Double = 0.2) throws -> RecognizerConfig {
    try RecognizerConfig(imageSize: imageSize, width: width, embeddingDimension: embedding, classes: classes, seed: seed,
                         scale: scale, margin: margin)
  }

  /// |a_i - fd_i| <= tolerance max_j |fd_j| for every checked coordinate (relative to the largest entry).
  func assertClose(_ analytic: [Double], _ fd: [Int: Double], tolerance: Double, _ what: String,
                   file: StaticString = #filePath, line: UInt = #line) {
    let size = max(fd.values.map(abs).max() ?? 0, 1e-300)
    XCTAssertGreaterThan(size, 1e-6, "\(what): the checked gradient is ~0, the test would be vacuous", file: file, line: line)
    for (i, expected) in fd.sorted(by: { $0.key < $1.key }) where abs(analytic[i] - expected) > tolerance * size {
      XCTFail("\(what)[\(i)]: analytic \(analytic[i]) vs finite differences \(expected) (scale \(size))", file: file, line: line)
      return
    }
  }

  /// Every embedding has |v| = 1 to 1e-12, and image b's embedding is the same (to 1e-14) alone or in a batch.
  func testEmbeddingsAreUnitVectorsAndBatchIndependent() throws {
    let r = try Recognizer(config: Self.config())
    var rng = SeededGenerator(seed: 1)
    let d = r.inputDimension, e = r.embeddingDimension, B = 4
    let x = FiniteDifferences.random(B * d, &rng)
    let v = try r.embed(x, batch: B)
    XCTAssertEqual(v.count, B * e)
    for b in 0..<B {
      let norm = (0..<e).map { v[b * e + $0] * v[b * e + $0] }.reduce(0, +).squareRoot()
      XCTAssertEqual(norm, 1, accuracy: 1e-12, "image \(b)")
      let alone = try r.embed(Array(x[(b * d)..<((b + 1) * d)]), batch: 1)
      for j in 0..<e { XCTAssertEqual(alone[j], v[b * e + j], accuracy: 1e-14, "image \(b), entry \(j)") }
    }
    // changing image 0 leaves the others' embeddings unchanged
    var y = x
    for i in 0..<d { y[i] += 0.5 }
    let w = try r.embed(y, batch: B)
    XCTAssertNotEqual(Array(w[0..<e]), Array(v[0..<e]))
    XCTAssertEqual(Array(w[e...]), Array(v[e...]))
  }

  /// `c^T dv/dx` against central differences of `<c, v(x)>` in every pixel; B = 2, random x and c, h = 1e-5,
  /// tolerance 1e-7 relative to the largest entry. Also: the VJP's embedding equals `embed`, and image b's row of
  /// the VJP does not depend on the other image's cotangent.
  func testInputVJPMatchesFiniteDifferences() throws {
    let r = try Recognizer(config: Self.config())
    var rng = SeededGenerator(seed: 2)
    let d = r.inputDimension, e = r.embeddingDimension, B = 2
    let x = FiniteDifferences.random(B * d, &rng)
    let c = FiniteDifferences.random(B * e, &rng)
    let (v, dx) = try r.vjp(x, batch: B, cotangent: c)
    XCTAssertEqual(v, try r.embed(x, batch: B))
    XCTAssertEqual(dx.count, B * d)
    let fd = try FiniteDifferences.gradient(x, h: 1e-5) { try FiniteDifferences.dot(c, r.embed($0, batch: B)) }
    assertClose(dx, fd, tolerance: 1e-7, "c^T dv/dx")
    var c2 = c
    for j in e..<(2 * e) { c2[j] = 0 }
    let (_, dx2) = try r.vjp(x, batch: B, cotangent: c2)
    XCTAssertEqual(Array(dx2[0..<d]), Array(dx[0..<d]))
    XCTAssertTrue(dx2[d...].allSatisfy { $0 == 0 })
  }

  /// The same check at the experiment's shape (s = 16, default e = 32) on 48 random pixels of a B = 2 batch;
  /// h = 1e-5, tolerance 1e-7 relative to the largest checked entry.
  func testInputVJPMatchesFiniteDifferencesAtImageSize16() throws {
    let r = try Recognizer(config: RecognizerConfig(width: 2, classes: 4, seed: 9))
    var rng = SeededGenerator(seed: 8)
    let d = r.inputDimension, B = 2
    XCTAssertEqual(d, 256)
    let x = FiniteDifferences.random(B * d, &rng)
    let c = FiniteDifferences.random(B * r.embeddingDimension, &rng)
    let (_, dx) = try r.vjp(x, batch: B, cotangent: c)
    let indices = (0..<48).map { _ in Int(rng.next() % UInt64(B * d)) }
    let fd = try FiniteDifferences.gradient(x, indices: indices, h: 1e-5) { try FiniteDifferences.dot(c, r.embed($0, batch: B)) }
    assertClose(dx, fd, tolerance: 1e-7, "c^T dv/dx (s = 16)")
  }

  /// dL/dtheta of the CosFace loss against central differences of L for 6 random coordinates of every parameter
  /// block (after a few Adam steps so biases are nonzero); h = 1e-6, tolerance 1e-6 relative to the largest entry.
  func testClassificationLossGradientMatchesFiniteDifferences() throws {
    var r = try Recognizer(config: Self.config())
    var rng = SeededGenerator(seed: 3)
    let d = r.inputDimension, B = 5
    let x = FiniteDifferences.random(B * d, &rng)
    let labels = [0, 1, 2, 1, 0]
    var theta = r.parameters
    var adam = try AdamOptimizer<Double>(parameterCount: r.parameterCount, .init(learningRate: 1e-2))
    for _ in 0..<3 { adam.update(&theta, gradient: try r.classificationLoss(x, labels: labels, batch: B).gradient) }
    try r.update(parameters: theta)
    let result = try r.classificationLoss(x, labels: labels, batch: B)
    XCTAssertEqual(result.gradient.count, r.parameterCount)
    var indices: [Int] = []
    for block in r.parameterBlocks {
      let slot = try XCTUnwrap(r.slot(block.name))
      for _ in 0..<6 { indices.append(slot.offset + Int(rng.next() % UInt64(slot.count))) }
    }
    let config = r.config
    let fd = try FiniteDifferences.gradient(r.parameters, indices: indices, h: 1e-6) {
      try Recognizer(config: config, parameters: $0).classificationLoss(x, labels: labels, batch: B).loss
    }
    assertClose(result.gradient, fd, tolerance: 1e-6, "dL/dtheta")
    XCTAssertEqual(r.parameterBlocks.map(\.name), [
      "conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "conv3.weight", "conv3.bias",
      "embed.weight", "embed.bias", "head.prototypes",
    ])
  }

  /// The loss value by hand for one image: `-log softmax_y(scale (cos - margin [k = y]))`; accuracy agrees with `classify`.
  func testLossValueAndAccuracyMatchTheDefinition() throws {
    let r = try Recognizer(config: Self.config())
    var rng = SeededGenerator(seed: 4)
    let x = FiniteDifferences.random(3 * r.inputDimension, &rng)
    let labels = [2, 0, 1]
    let result = try r.classificationLoss(x, labels: labels, batch: 3)
    let cosines = try r.cosines(r.embed(x, batch: 3), batch: 3)
    var expected = 0.0
    for b in 0..<3 {
      let logits = (0..<3).map { k in 16 * (cosines[b * 3 + k] - (k == labels[b] ? 0.2 : 0)) }
      expected += -log(exp(logits[labels[b]]) / logits.map { exp($0) }.reduce(0, +)) / 3
    }
    XCTAssertEqual(result.loss, expected, accuracy: 1e-12)
    let predicted = try r.classify(x, batch: 3)
    XCTAssertEqual(result.accuracy, Double(zip(predicted, labels).filter { $0 == $1 }.count) / 3, accuracy: 0)
  }

  /// Two classes (two fixed N(0, 1) mean images, pixel noise 0.3): 150 Adam steps of batch 32 reach held-out
  /// accuracy >= 0.95 on 256 fresh images.
  func testTrainingSeparatesTwoClasses() throws {
    var r = try Recognizer(config: Self.config(imageSize: 8, width: 4, embedding: 8, classes: 2, seed: 1))
    let d = r.inputDimension
    var meanRNG = SeededGenerator(seed: 10)
    let means = [FiniteDifferences.random(d, &meanRNG), FiniteDifferences.random(d, &meanRNG)]
    func draw(_ n: Int, _ rng: inout SeededGenerator) -> (x: [Double], labels: [Int]) {
      var x: [Double] = [], labels: [Int] = []
      for _ in 0..<n {
        let k = Int(rng.next() % 2)
        labels.append(k)
        x += means[k].map { $0 + 0.3 * rng.normal() }
      }
      return (x, labels)
    }
    var data = SeededGenerator(seed: 11)
    var logged: [Int] = []
    let final = try RecognizerTraining(steps: 150, batch: 32, learningRate: 3e-3).train(
      &r, sample: { _ in draw(32, &data) }, log: { step, _, _ in logged.append(step) })
    XCTAssertEqual(logged, [50, 100, 150])
    XCTAssertTrue(final.loss.isFinite)
    var heldOut = SeededGenerator(seed: 12)
    let test = draw(256, &heldOut)
    let predicted = try r.classify(test.x, batch: 256)
    let accuracy = Double(zip(predicted, test.labels).filter { $0 == $1 }.count) / 256
    XCTAssertGreaterThanOrEqual(accuracy, 0.95)
  }

  /// Same seed, same parameters; save then load gives bit-identical parameters and the same config.
  func testSaveLoadRoundTripIsBitIdentical() throws {
    let config = try Self.config(seed: 1 << 60 + 3)
    XCTAssertEqual(try Recognizer(config: config).parameters, try Recognizer(config: config).parameters)
    var r = try Recognizer(config: config)
    var rng = SeededGenerator(seed: 5)
    try r.update(parameters: r.parameters.map { $0 + 1e-3 * rng.normal() })
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("recognizer-\(UUID().uuidString)/nested")
    defer { try? FileManager.default.removeItem(at: directory.deletingLastPathComponent()) }
    try r.save(to: directory)
    let loaded = try Recognizer.load(from: directory)
    XCTAssertEqual(loaded.config, config)
    XCTAssertEqual(loaded.parameters.map(\.bitPattern), r.parameters.map(\.bitPattern))
  }

  func testBadInputsThrowNamingTheField() throws {
    let r = try Recognizer(config: Self.config())
    let d = r.inputDimension, e = r.embeddingDimension
    let x = [Double](repeating: 0.1, count: 2 * d)
    func field(_ body: () throws -> Void) -> String? {
      do { try body() } catch let error as InvalidInput { return error.field } catch { return "other: \(error)" }
      return nil
    }
    XCTAssertEqual(field { _ = try r.embed(x, batch: 3) }, "x")
    XCTAssertEqual(field { _ = try r.embed(x, batch: 0) }, "batch")
    XCTAssertEqual(field { _ = try r.embed(x, batch: -1) }, "batch")
    var bad = x
    bad[5] = .nan
    XCTAssertEqual(field { _ = try r.embed(bad, batch: 2) }, "x")
    bad[5] = .infinity
    XCTAssertEqual(field { _ = try r.vjp(bad, batch: 2, cotangent: [Double](repeating: 0, count: 2 * e)) }, "x")
    XCTAssertEqual(field { _ = try r.vjp(x, batch: 2, cotangent: [Double](repeating: 0, count: e)) }, "cotangent")
    XCTAssertEqual(field { _ = try r.vjp(x, batch: 2, cotangent: [Double](repeating: .nan, count: 2 * e)) }, "cotangent")
    XCTAssertEqual(field { _ = try r.classificationLoss(x, labels: [0, 3], batch: 2) }, "labels")
    XCTAssertEqual(field { _ = try r.classificationLoss(x, labels: [0, -1], batch: 2) }, "labels")
    XCTAssertEqual(field { _ = try r.classificationLoss(x, labels: [0], batch: 2) }, "labels")
    XCTAssertEqual(field { _ = try r.classificationLoss(bad, labels: [0, 1], batch: 2) }, "x")
    var copy = r
    XCTAssertEqual(field { try copy.update(parameters: [1, 2]) }, "parameters")
    XCTAssertEqual(field { try copy.update(parameters: r.parameters.map { _ in .nan }) }, "parameters")
    XCTAssertEqual(copy.parameters, r.parameters)
    XCTAssertEqual(field { _ = try Recognizer(config: r.config, parameters: Array(r.parameters.dropLast())) }, "parameters")
    XCTAssertEqual(field { _ = try RecognizerTraining(steps: 0) }, "steps")
    XCTAssertEqual(field { _ = try RecognizerTraining(steps: 10, batch: 0) }, "batch")
    XCTAssertEqual(field { _ = try RecognizerTraining(steps: 10, learningRate: -1) }, "lr")
    // a sampler returning the wrong batch, or labels out of range, is an error, not a crash
    var m = r
    let training = try RecognizerTraining(steps: 2, batch: 2)
    XCTAssertEqual(field { _ = try training.train(&m, sample: { _ in (x, [0]) }, log: { _, _, _ in }) }, "sample")
    XCTAssertEqual(field { _ = try training.train(&m, sample: { _ in (x, [0, 7]) }, log: { _, _, _ in }) }, "labels")
  }

  func testConfigValidationAndJSON() throws {
    func field(_ body: () throws -> Void) -> String? {
      do { try body() } catch let error as InvalidInput { return error.field } catch { return "other: \(error)" }
      return nil
    }
    XCTAssertEqual(field { _ = try Self.config(imageSize: 10) }, "image_size")
    XCTAssertEqual(field { _ = try Self.config(imageSize: 0) }, "image_size")
    XCTAssertEqual(field { _ = try Self.config(width: 0) }, "width")
    XCTAssertEqual(field { _ = try Self.config(embedding: 1) }, "embedding_dim")
    XCTAssertEqual(field { _ = try Self.config(classes: 1) }, "classes")
    XCTAssertEqual(field { _ = try Self.config(scale: 0) }, "scale")
    XCTAssertEqual(field { _ = try Self.config(scale: .nan) }, "scale")
    XCTAssertEqual(field { _ = try Self.config(margin: -0.1) }, "margin")
    let c = try Self.config(seed: UInt64.max - 1, scale: 12.5, margin: 0.35)
    XCTAssertEqual(try RecognizerConfig(json: Data(c.json().utf8)), c)
    let minimal = try RecognizerConfig(json: Data(#"{"width": 8, "classes": 4, "seed": 1}"#.utf8))
    XCTAssertEqual(minimal, try RecognizerConfig(width: 8, classes: 4, seed: 1))
    XCTAssertEqual(minimal.imageSize, 16)
    XCTAssertEqual(minimal.embeddingDimension, 32)
    XCTAssertEqual(field { _ = try RecognizerConfig(json: Data(#"{"width": 8, "classes": 4, "seed": 1, "depth": 2}"#.utf8)) }, "depth")
    XCTAssertEqual(field { _ = try RecognizerConfig(json: Data(#"{"width": 8, "seed": 1}"#.utf8)) }, "classes")
    XCTAssertEqual(field { _ = try RecognizerConfig(json: Data(#"{"width": 8, "classes": 4}"#.utf8)) }, "seed")
    XCTAssertEqual(field { _ = try RecognizerConfig(json: Data(#"{"width": 8.5, "classes": 4, "seed": 1}"#.utf8)) }, "width")
    XCTAssertEqual(field { _ = try RecognizerConfig(json: Data(#"{"width": 8, "classes": 4, "seed": -1}"#.utf8)) }, "seed")
    XCTAssertEqual(field { _ = try RecognizerConfig(json: Data(#"{"width": "8", "classes": 4, "seed": 1}"#.utf8)) }, "width")
    XCTAssertEqual(field { _ = try RecognizerConfig(json: Data("[1]".utf8)) }, "config.json")
  }

  /// Missing files, a broken config, truncated weights, wrong/missing/extra tensors and non-finite values fail
  /// with an `InvalidInput` whose message names the problem.
  func testCorruptOrMissingFilesThrow() throws {
    let r = try Recognizer(config: Self.config())
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("recognizer-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: root) }
    func message(_ directory: URL) -> String {
      do { _ = try Recognizer.load(from: directory) } catch let error as InvalidInput { return error.description } catch {
        return "other: \(error)"
      }
      return "loaded"
    }
    func fresh(_ name: String) throws -> URL {
      let directory = root.appendingPathComponent(name)
      try r.save(to: directory)
      return directory
    }
    XCTAssertTrue(message(root.appendingPathComponent("nothing")).contains("config.json"))
    var dir = try fresh("no-weights")
    try FileManager.default.removeItem(at: dir.appendingPathComponent(Recognizer.weightsFile))
    XCTAssertTrue(message(dir).contains("model.safetensors: is missing"), message(dir))
    dir = try fresh("bad-config")
    try Data(#"{"width": 3, "classes": 3}"#.utf8).write(to: dir.appendingPathComponent(Recognizer.configFile))
    XCTAssertTrue(message(dir).contains("seed"), message(dir))
    dir = try fresh("other-config")  // a config that does not fit the weights
    try Data(try Self.config(width: 4).json().utf8).write(to: dir.appendingPathComponent(Recognizer.configFile))
    XCTAssertTrue(message(dir).contains("conv1.weight"), message(dir))
    dir = try fresh("truncated")
    let weights = dir.appendingPathComponent(Recognizer.weightsFile)
    let bytes = try Data(contentsOf: weights)
    try bytes.prefix(bytes.count - 8).write(to: weights)
    XCTAssertTrue(message(dir).contains("model.safetensors"), message(dir))
    func write(_ entries: [SafeTensorsFile.Entry], _ name: String) throws -> URL {
      let directory = try fresh(name)
      // encode, not write: write refuses non-finite tensors, and this helper must make such a file
      try SafeTensorsFile.encode(entries).write(to: directory.appendingPathComponent(Recognizer.weightsFile))
      return directory
    }
    var entries = r.parameterBlocks.map { block in
      let slot = r.slot(block.name)!
      return SafeTensorsFile.Entry(block.name, shape: block.shape, doubles: Array(r.parameters[slot.offset..<(slot.offset + slot.count)]))
    }
    XCTAssertEqual(message(try write(entries, "rewritten")), "loaded")
    XCTAssertTrue(message(try write(Array(entries.dropLast()), "missing-tensor")).contains("head.prototypes\": is missing"))
    XCTAssertTrue(message(try write(entries + [.init("extra", shape: [1], doubles: [0])], "extra-tensor")).contains("\"extra\""))
    let last = entries.removeLast()
    var values = r.parameters.suffix(last.count).map { $0 }
    XCTAssertTrue(message(try write(entries + [.init(last.name, shape: [last.count], doubles: values)], "shape")).contains("shape"))
    values[2] = .infinity
    let message2 = message(try write(entries + [.init(last.name, shape: last.shape, doubles: values)], "non-finite"))
    XCTAssertTrue(message2.contains("head.prototypes") && message2.contains("not finite"), message2)
  }
}
