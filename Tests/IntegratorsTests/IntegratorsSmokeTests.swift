import XCTest

@testable import Integrators
