'use strict';
// Transactions (multi), ACLs and authentication, watches and ephemerals across sessions.

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { zookeeper, connect, call, errorCode, commit, nextEvent, freshRoot } = require('../lib/helpers');

const { ACL, Id, Permission, Exception, Event, CreateMode } = zookeeper;
const T = { timeout: 20000 };

function digestId(user, password) {
  const hash = crypto.createHash('sha1').update(`${user}:${password}`).digest('base64');
  return new Id('digest', `${user}:${hash}`);
}

test('transaction commits every operation', T, async () => {
  const c = await connect();
  try {
    const root = await freshRoot(c, 'txn-ok');
    await call(c, 'create', `${root}/old`);
    const { err, results } = await commit(
      c.transaction()
        .create(`${root}/t`, Buffer.from('a'))
        .create(`${root}/t/1`, Buffer.from('b'))
        .setData(`${root}/t`, Buffer.from('c'), 0)
        .check(`${root}/t`, 1)
        .remove(`${root}/old`, -1),
    );
    assert.equal(err, null);
    assert.equal(results.length, 5);
    assert.equal(results[0].path, `${root}/t`);
    assert.equal(results[2].stat.version, 1);
    assert.equal((await call(c, 'getData', `${root}/t`))[0].toString(), 'c');
    assert.equal(await call(c, 'exists', `${root}/old`), null);
    const a = await call(c, 'exists', `${root}/t`);
    const b = await call(c, 'exists', `${root}/t/1`);
    assert.ok(a.czxid.equals(b.czxid), 'one zxid for the whole transaction');
  } finally {
    c.close();
  }
});

test('failed transaction applies nothing and reports each op', T, async () => {
  const c = await connect();
  try {
    const root = await freshRoot(c, 'txn-fail');
    const { err, results } = await commit(
      c.transaction().create(`${root}/new`).check(`${root}`, 42).create(`${root}/other`),
    );
    assert.ok(err, 'the transaction must fail');
    assert.equal(err.getCode(), Exception.BAD_VERSION);
    assert.equal(results.length, 3);
    assert.equal(results[0].err, Exception.OK);
    assert.equal(results[1].err, Exception.BAD_VERSION);
    assert.equal(results[2].err, Exception.RUNTIME_INCONSISTENCY);
    assert.equal(await call(c, 'exists', `${root}/new`), null);
  } finally {
    c.close();
  }
});

test('ACLs: digest auth, NO_AUTH, INVALID_ACL, setACL and aversion', T, async () => {
  const open = await connect();
  const authed = await connect();
  try {
    authed.addAuthInfo('digest', Buffer.from('user:pw'));
    const root = await freshRoot(open, 'acl');
    const p = `${root}/secret`;
    const acl = [new ACL(Permission.ALL, digestId('user', 'pw'))];
    await call(open, 'create', p, Buffer.from('hidden'), acl);
    assert.equal(await errorCode(call(open, 'getData', p)), Exception.NO_AUTH);
    assert.equal((await call(authed, 'getData', p))[0].toString(), 'hidden');
    const [got] = await call(authed, 'getACL', p);
    assert.equal(got.length, 1);
    assert.equal(got[0].permission, Permission.ALL);
    assert.equal(got[0].id.scheme, 'digest');
    assert.equal(got[0].id.id, digestId('user', 'pw').id);
    const st = await call(authed, 'setACL', p, ACL.READ_ACL_UNSAFE, 0);
    assert.equal(st.aversion, 1);
    assert.equal((await call(open, 'getData', p))[0].toString(), 'hidden');
    assert.equal(await errorCode(call(open, 'setData', p, Buffer.from('no'), -1)), Exception.NO_AUTH);
    assert.equal(
      await errorCode(call(open, 'create', `${root}/c`, null, ACL.CREATOR_ALL_ACL)),
      Exception.INVALID_ACL,
    );
    await call(authed, 'create', `${root}/mine`, null, ACL.CREATOR_ALL_ACL);
    const [mine] = await call(authed, 'getACL', `${root}/mine`);
    assert.equal(mine[0].id.scheme, 'digest');
    assert.equal(mine[0].id.id, digestId('user', 'pw').id);
  } finally {
    open.close();
    authed.close();
  }
});

test('one-shot data, exists and child watches', T, async () => {
  const c = await connect();
  const w = await connect();
  try {
    const root = await freshRoot(c, 'watch');
    await call(c, 'create', `${root}/d`, Buffer.from('x'));
    const data = nextEvent();
    const created = nextEvent();
    const kids = nextEvent();
    await call(w, 'getData', `${root}/d`, data.watcher);
    assert.equal(await call(w, 'exists', `${root}/later`, created.watcher), null);
    await call(w, 'getChildren', root, kids.watcher);
    await call(c, 'setData', `${root}/d`, Buffer.from('y'), -1);
    await call(c, 'create', `${root}/later`);
    const e1 = await data.promise;
    assert.equal(e1.getType(), Event.NODE_DATA_CHANGED);
    assert.equal(e1.getPath(), `${root}/d`);
    const e2 = await created.promise;
    assert.equal(e2.getType(), Event.NODE_CREATED);
    const e3 = await kids.promise;
    assert.equal(e3.getType(), Event.NODE_CHILDREN_CHANGED);
    assert.equal(e3.getPath(), root);
    const deleted = nextEvent();
    await call(w, 'exists', `${root}/later`, deleted.watcher);
    await call(c, 'remove', `${root}/later`, -1);
    assert.equal((await deleted.promise).getType(), Event.NODE_DELETED);
  } finally {
    c.close();
    w.close();
  }
});

test('ephemeral node goes when its session closes', T, async () => {
  const owner = await connect();
  const w = await connect();
  try {
    const root = await freshRoot(w, 'ephemeral');
    await call(owner, 'create', `${root}/e`, null, CreateMode.EPHEMERAL);
    const gone = nextEvent();
    assert.ok(await call(w, 'exists', `${root}/e`, gone.watcher));
    owner.close();
    assert.equal((await gone.promise).getType(), Event.NODE_DELETED);
    assert.equal(await call(w, 'exists', `${root}/e`), null);
  } finally {
    w.close();
  }
});
