// Contract tests for the sendfile mover: binding.sendfile (one file range)
// and sendSegments(MOVER_SENDFILE, ...), over TCP loopback connections.
import { strict as assert } from 'node:assert';
import { binding, bindingReason, describeIf, requireBinding, type StartTransfer } from '../helpers/native-harness';
import { transferContract } from '../helpers/transfer-contract';

describeIf(binding !== null, bindingReason, 'native sendfile', () => {
  describe('binding.sendfile()', () => {
    const b = requireBinding();
    const send: StartTransfer = (outFd, segments, maxChunk, id, cb) => {
      assert.equal(segments.length, 1, 'sendfile takes one file range');
      const only = segments[0];
      assert.ok(Array.isArray(only), 'sendfile takes a file range');
      const [inFd, offset, count] = only;
      return b.sendfile(outFd, inFd, offset, count, maxChunk, id, cb);
    };
    transferContract({ send, multiSegment: false, usesPipes: false });
  });

  describe('binding.sendSegments(MOVER_SENDFILE)', () => {
    const b = requireBinding();
    const send: StartTransfer = (outFd, segments, maxChunk, id, cb) =>
      b.sendSegments(b.MOVER_SENDFILE, outFd, segments, maxChunk, id, cb);
    let createdBefore = 0;
    before(() => {
      createdBefore = b.pipePoolStats().created;
    });

    describe('contract', () => {
      transferContract({ send, multiSegment: true, usesPipes: false });
    });

    describe('afterwards', () => {
      it('should not have created a single pipe', () => {
        assert.equal(b.pipePoolStats().created, createdBefore);
      });
    });
  });
});
