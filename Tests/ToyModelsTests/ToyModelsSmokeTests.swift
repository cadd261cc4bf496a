import XCTest

@testable import ToyModels
