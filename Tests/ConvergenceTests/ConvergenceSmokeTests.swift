import XCTest

@testable import Convergence
