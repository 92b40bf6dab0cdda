import Foundation
import Infer
import XCTest

final class InferTests: XCTestCase {
    /// The seed workflow: an MLP in eval mode, one forward pass in inference mode.
    func testSeedWorkflow() throws {
        manualSeed(7)
        let model = try Module.sequential([Module.linear(784, 256), Module.relu(), Module.linear(256, 10)])
        try model.eval()
        XCTAssertFalse(try model.isTraining())
        XCTAssertEqual(try model.stateDictNames(), ["0.weight", "0.bias", "2.weight", "2.bias"])
        let x = try Tensor.randn([4, 784])
        let (out, pred) = try withInferenceMode { () throws -> (Tensor, Tensor) in
            XCTAssertTrue(isInferenceModeEnabled())
            let out = try model.forward(x)
            return (out, try out.argmax(1))
        }
        XCTAssertFalse(isInferenceModeEnabled())
        XCTAssertEqual(try out.shape(), [4, 10])
        XCTAssertTrue(try out.isInference())
        XCTAssertFalse(try out.requiresGrad())
        let logits = try out.floats()
        let classes = try pred.int64s()
        for row in 0..<4 {
            let scores = logits[(row * 10)..<(row * 10 + 10)]
            XCTAssertEqual(classes[row], Int64(scores.firstIndex(of: scores.max()!)! - row * 10))
        }
    }

    func testErrorsCarryStatusAndMessage() throws {
        let a = try Tensor.ones([2, 3])
        let b = try Tensor.ones([4, 5])
        XCTAssertThrowsError(try a.matmul(b)) { error in
            guard let e = error as? InferError else { return XCTFail("\(error) is not an InferError") }
            XCTAssertEqual(e.status, .shape)
            XCTAssertTrue(e.message.contains("rt_tensor_matmul"), e.message)
        }
        XCTAssertThrowsError(try Tensor.zeros([2], dtype: .i64).floats()) { error in
            XCTAssertEqual((error as? InferError)?.status, .dtype)
        }
    }

    /// Backward inside inference mode fails and changes no gradient; afterwards it succeeds.
    func testBackwardInsideInferenceMode() throws {
        let w = try Tensor.from([1, 2, 3] as [Float], shape: [3])
        try w.setRequiresGrad()
        let loss = try w.mul(w).sum()
        XCTAssertThrowsError(try withInferenceMode { try loss.backward() }) { error in
            XCTAssertEqual((error as? InferError)?.status, .inferenceMode)
        }
        XCTAssertFalse(isInferenceModeEnabled(), "the mode was exited when body threw")
        XCTAssertNil(try w.grad())
        try loss.backward()
        XCTAssertEqual(try w.grad()?.floats(), [2, 4, 6])
    }

    /// Objects free their handles in deinit: the library's live bytes return to the start.
    func testDeinitFreesStorage() throws {
        let start = try liveBytes()
        try {
            let model = try Module.linear(64, 64)
            let opt = try Optimizer.adam(model, lr: 1e-2)
            let loss = try model.forward(Tensor.randn([8, 64])).pow(2).mean()
            try loss.backward()
            try opt.step()
            XCTAssertGreaterThan(try liveBytes(), start)
        }()
        XCTAssertEqual(try liveBytes(), start)
    }

    func testTrainLinearRegression() throws {
        var xs: [Float] = [], ys: [Float] = []
        for i in 0..<4 {
            for j in 0..<4 {
                let a = -1 + 2 * Float(i) / 3, b = -1 + 2 * Float(j) / 3
                xs += [a, b]
                ys.append(2 * a - 3 * b + 0.5)
            }
        }
        let x = try Tensor.from(xs, shape: [16, 2])
        let y = try Tensor.from(ys, shape: [16, 1])
        let model = try Module.linear(2, 1)
        let opt = try Optimizer.sgd(model, lr: 0.1)
        for _ in 0..<400 {
            try opt.zeroGrad()
            try model.forward(x).sub(y).pow(2).mean().backward()
            try opt.step()
        }
        let weight = try model.tensor(named: "weight").floats()
        let bias = try model.tensor(named: "bias").floats()
        XCTAssertEqual(weight[0], 2, accuracy: 1e-4)
        XCTAssertEqual(weight[1], -3, accuracy: 1e-4)
        XCTAssertEqual(bias[0], 0.5, accuracy: 1e-4)
    }

    func testSoftmaxAndCrossEntropy() throws {
        let logits = try Tensor.from([0, Float(log(3.0))], shape: [1, 2])
        let p = try logits.softmax(1).floats()
        XCTAssertEqual(p[0], 0.25, accuracy: 1e-6)
        XCTAssertEqual(p[1], 0.75, accuracy: 1e-6)
        XCTAssertEqual(try logits.crossEntropy(Tensor.from([1] as [Int64], shape: [1])).item(), -log(0.75), accuracy: 1e-6)
    }

    func testSafetensorsRoundTrip() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("infer-swift-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("t.safetensors").path
        try SafeTensors.save(["b": Tensor.from([7, -8] as [Int64], shape: [2]),
                              "a": Tensor.from([1, 2, 3] as [Float], shape: [3])], to: path)
        let file = try SafeTensors(path: path)
        XCTAssertEqual(try file.names(), ["a", "b"])
        XCTAssertEqual(try file.tensor(named: "a").floats(), [1, 2, 3])
        XCTAssertEqual(try file.tensor(named: "b").int64s(), [7, -8])
        XCTAssertThrowsError(try file.tensor(named: "c")) { error in
            XCTAssertEqual((error as? InferError)?.status, .invalidArgument)
        }
        XCTAssertThrowsError(try SafeTensors(path: dir.appendingPathComponent("missing").path)) { error in
            XCTAssertEqual((error as? InferError)?.status, .io)
        }

        let from = try Module.sequential([Module.linear(4, 3), Module.relu()])
        let to = try Module.sequential([Module.linear(4, 3), Module.relu()])
        let model = dir.appendingPathComponent("m.safetensors").path
        try from.saveSafetensors(model)
        try to.loadSafetensors(model)
        let x = try Tensor.randn([2, 4])
        XCTAssertEqual(try to.forward(x).floats(), try from.forward(x).floats())
        XCTAssertEqual(try SafeTensors(path: model).names(), ["0.bias", "0.weight"])
    }
}
