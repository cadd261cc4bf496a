import XCTest

@testable import NeuralCore
