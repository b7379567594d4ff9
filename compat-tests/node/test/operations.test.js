'use strict';
// Plain operations: create modes, reads, writes, versions, errors, children, data sizes.

const test = require('node:test');
const assert = require('node:assert/strict');
const { zookeeper, connect, call, errorCode, freshRoot } = require('../lib/helpers');

const { CreateMode, Exception } = zookeeper;
const T = { timeout: 20000 };

test('session has an id, a password and the negotiated timeout', T, async () => {
  const c = await connect({ sessionTimeout: 12000 });
  try {
    assert.equal(c.getSessionId().length, 8);
    assert.equal(c.getSessionPassword().length, 16);
    assert.equal(c.getSessionTimeout(), 12000);
  } finally {
    c.close();
  }
});

test('create, getData, setData with versions, exists, remove', T, async () => {
  const c = await connect();
  try {
    const root = await freshRoot(c, 'crud');
    const p = `${root}/n`;
    assert.equal(await call(c, 'create', p, Buffer.from('one')), p);
    const [data, stat] = await call(c, 'getData', p);
    assert.equal(data.toString(), 'one');
    assert.equal(stat.version, 0);
    assert.equal(stat.dataLength, 3);
    assert.ok(stat.czxid.equals(stat.mzxid));
    const stat2 = await call(c, 'setData', p, Buffer.from('two'), 0);
    assert.equal(stat2.version, 1);
    assert.equal(await errorCode(call(c, 'setData', p, Buffer.from('x'), 0)), Exception.BAD_VERSION);
    assert.equal(await errorCode(call(c, 'remove', p, 0)), Exception.BAD_VERSION);
    const st = await call(c, 'exists', p);
    assert.equal(st.version, 1);
    await call(c, 'remove', p, 1);
    assert.equal(await call(c, 'exists', p), null);
  } finally {
    c.close();
  }
});

test('create modes: ephemeral and sequential names and owners', T, async () => {
  const c = await connect();
  try {
    const root = await freshRoot(c, 'modes');
    const eph = await call(c, 'create', `${root}/e`, null, CreateMode.EPHEMERAL);
    const s1 = await call(c, 'create', `${root}/s-`, null, CreateMode.PERSISTENT_SEQUENTIAL);
    const s2 = await call(c, 'create', `${root}/s-`, null, CreateMode.EPHEMERAL_SEQUENTIAL);
    assert.equal(s1, `${root}/s-0000000001`);
    assert.equal(s2, `${root}/s-0000000002`);
    const owner = (await call(c, 'exists', eph)).ephemeralOwner;
    assert.ok(owner.equals(c.getSessionId()), 'ephemeralOwner is the session id');
    assert.ok((await call(c, 'exists', s2)).ephemeralOwner.equals(c.getSessionId()));
    assert.ok((await call(c, 'exists', s1)).ephemeralOwner.equals(Buffer.alloc(8)));
  } finally {
    c.close();
  }
});

test('error codes of failing requests', T, async () => {
  const c = await connect();
  try {
    const root = await freshRoot(c, 'errors');
    assert.equal(await errorCode(call(c, 'getData', `${root}/missing`)), Exception.NO_NODE);
    assert.equal(await errorCode(call(c, 'create', root)), Exception.NODE_EXISTS);
    assert.equal(await errorCode(call(c, 'create', `${root}/a/b`)), Exception.NO_NODE);
    await call(c, 'create', `${root}/child`);
    assert.equal(await errorCode(call(c, 'remove', root, -1)), Exception.NOT_EMPTY);
    await call(c, 'create', `${root}/eph`, null, CreateMode.EPHEMERAL);
    assert.equal(
      await errorCode(call(c, 'create', `${root}/eph/x`)),
      Exception.NO_CHILDREN_FOR_EPHEMERALS,
    );
    assert.equal(await errorCode(call(c, 'setData', `${root}/missing`, Buffer.from('x'), -1)), Exception.NO_NODE);
  } finally {
    c.close();
  }
});

test('children, mkdirp and deletes from the leaves up', T, async () => {
  const c = await connect();
  try {
    const root = await freshRoot(c, 'tree');
    await call(c, 'mkdirp', `${root}/a/b/c`);
    await call(c, 'create', `${root}/a/x`);
    const [children, stat] = await call(c, 'getChildren', `${root}/a`);
    assert.deepEqual([...children].sort(), ['b', 'x']);
    assert.equal(stat.numChildren, 2);
    assert.equal(stat.cversion, 2);
    const [deep] = await call(c, 'getChildren', `${root}/a/b`);
    assert.deepEqual(deep, ['c']);
    for (const leaf of ['a/b/c', 'a/b', 'a/x', 'a']) {
      await call(c, 'remove', `${root}/${leaf}`, -1);
    }
    assert.equal(await call(c, 'exists', `${root}/a`), null);
  } finally {
    c.close();
  }
});

test('binary, empty and large data round-trip', T, async () => {
  const c = await connect();
  try {
    const root = await freshRoot(c, 'data');
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    await call(c, 'create', `${root}/bin`, bytes);
    assert.ok((await call(c, 'getData', `${root}/bin`))[0].equals(bytes));
    await call(c, 'create', `${root}/empty`, Buffer.alloc(0));
    const [empty, st] = await call(c, 'getData', `${root}/empty`);
    assert.equal(st.dataLength, 0);
    assert.ok(empty === null || empty.length === 0);
    const big = Buffer.alloc(512 * 1024, 0x5a);
    await call(c, 'create', `${root}/big`, big);
    const [back, bst] = await call(c, 'getData', `${root}/big`);
    assert.equal(bst.dataLength, big.length);
    assert.ok(back.equals(big));
  } finally {
    c.close();
  }
});
