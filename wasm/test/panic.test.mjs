// A Rust panic reaches JavaScript as a LiteshiftError (code internal_error, with the panic's
// message), never as a bare WebAssembly "unreachable". Its own file: the aborted module is gone.
import { test } from 'node:test';
import assert from 'node:assert/strict';

const ls = await import('../pkg/index.node.js');

test('a panic is an internal_error carrying its message', () => {
  assert.throws(() => ls.selfTestPanic(), (e) => {
    assert.ok(e instanceof ls.LiteshiftError);
    assert.equal(e.code, 'internal_error');
    assert.match(e.message, /liteshift self-test panic/);
    assert.doesNotMatch(e.message, /^unreachable$/);
    return true;
  });
});
