import DiffusionCore
import TestSupport
import XCTest

@testable import NeuralCore

/// `bench unet`'s option checks and what it concludes from its rounds: contended rounds stay out of the headline.
final class BenchRoundsTests: XCTestCase {
  func testOptionValidation() throws {
    XCTAssertNoThrow(try BenchRounds.validate(rounds: 3, runs: 1, contendedLoad: 0.3, settleSeconds: 0))
    XCTAssertNoThrow(try BenchRounds.validate(rounds: 7, runs: 5, contendedLoad: 0, settleSeconds: 3600))
    XCTAssertThrowsInvalid(try BenchRounds.validate(rounds: 2, runs: 5, contendedLoad: 0.3, settleSeconds: 0), field: "rounds")
    XCTAssertThrowsInvalid(try BenchRounds.validate(rounds: 0, runs: 5, contendedLoad: 0.3, settleSeconds: 0), field: "rounds")
    XCTAssertThrowsInvalid(try BenchRounds.validate(rounds: 3, runs: 0, contendedLoad: 0.3, settleSeconds: 0), field: "runs")
    for load in [-0.1, .nan, .infinity] {
      XCTAssertThrowsInvalid(try BenchRounds.validate(rounds: 3, runs: 5, contendedLoad: load, settleSeconds: 0), field: "contended-load")
    }
    for settle in [-1, .nan, 3601, .infinity] {
      XCTAssertThrowsInvalid(try BenchRounds.validate(rounds: 3, runs: 5, contendedLoad: 0.3, settleSeconds: settle), field: "settle")
    }
  }

  private func round(_ ours: Double, _ theirs: Double, load: Double) -> BenchRounds.Round {
    .init(oursForward: ours, oursFull: 3 * ours, theirsForward: theirs, theirsFull: 3 * theirs, loadBefore: load, loadAfter: 1)
  }

  func testContendedRoundsAreMarkedAndLeftOutOfTheHeadline() throws {
    var r = BenchRounds()
    r.append(round(1.0, 2.0, load: 0.1))  // ratio 0.5, quiet
    r.append(round(3.0, 2.0, load: 1.5))  // ratio 1.5, contended
    r.append(round(1.2, 2.0, load: 0.3))  // ratio 0.6, quiet (at the threshold)
    r.append(round(0.8, 2.0, load: .nan))  // unknown load counts as contended
    XCTAssertEqual(r.rounds.map(r.isContended), [false, true, false, true])
    XCTAssertFalse(r.allContended)
    XCTAssertEqual(r.headlineRounds.count, 2)
    XCTAssertEqual(try XCTUnwrap(r.median(\.forwardRatio)), 0.55, accuracy: 1e-12)
    let (lo, hi) = try XCTUnwrap(r.spread(\.fullRatio))
    XCTAssertEqual(lo, 0.5, accuracy: 1e-12)
    XCTAssertEqual(hi, 0.6, accuracy: 1e-12)
  }

  func testAllContendedUsesEveryRoundAndSaysSo() throws {
    var r = BenchRounds(contendedLoad: 0.3)
    for (k, load) in [0.9, 2.0, 0.31].enumerated() { r.append(round(Double(k + 1), 2, load: load)) }
    XCTAssertTrue(r.allContended)
    XCTAssertEqual(r.headlineRounds.count, 3)
    XCTAssertEqual(try XCTUnwrap(r.median(\.oursForward)), 2)
    XCTAssertNil(BenchRounds().median(\.oursForward))
  }

  func testRoundsAlternateWhichSideGoesFirst() {
    XCTAssertEqual((0..<4).map { BenchRounds.pytorchFirst(round: $0) }, [false, true, false, true])
  }

  func testMachineInfoNamesTheCPUAndISA() {
    XCTAssertFalse(MachineInfo.cpuModel.isEmpty)
    XCTAssertTrue(["AVX-512", "AVX2+FMA", "AVX", "SSE", "unknown"].contains(MachineInfo.vectorISA))
    XCTAssertFalse(OpenBLASKernels.kernelISA.isEmpty)
  }
}
