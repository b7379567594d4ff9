'use strict';
// Promise wrappers over node-zookeeper-client and a per-run namespace.

const zookeeper = require('node-zookeeper-client');

const ADDRESS = process.env.COMPAT_ZK_ADDRESS || '127.0.0.1:2181';
const RUN_ROOT = `/node-${Date.now().toString(36)}`;
const CONNECT_MS = 8000;

/** A connected client; rejects if the server does not accept a session in time. */
function connect(options = {}) {
  const client = zookeeper.createClient(ADDRESS, { sessionTimeout: 15000, ...options });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.close();
      reject(new Error(`no session from ${ADDRESS} within ${CONNECT_MS}ms`));
    }, CONNECT_MS);
    client.once('connected', () => {
      clearTimeout(timer);
      resolve(client);
    });
    client.connect();
  });
}

/** Calls client[method](...args, callback) and resolves with the callback's results. */
function call(client, method, ...args) {
  return new Promise((resolve, reject) => {
    client[method](...args, (err, ...results) => {
      if (err) {
        reject(err);
      } else {
        resolve(results.length <= 1 ? results[0] : results);
      }
    });
  });
}

/** Resolves with the error code a call fails with, rejects if it succeeds. */
async function errorCode(promise) {
  try {
    await promise;
  } catch (err) {
    if (typeof err.getCode === 'function') {
      return err.getCode();
    }
    throw err;
  }
  throw new Error('the call succeeded but an error was expected');
}

function commit(transaction) {
  return new Promise((resolve) => {
    transaction.commit((err, results) => resolve({ err, results }));
  });
}

/** A promise for the next event a one-shot watcher receives, with a time limit. */
function nextEvent(ms = 10000) {
  let watcher;
  const promise = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no watch event within ${ms}ms`)), ms);
    watcher = (event) => {
      clearTimeout(timer);
      resolve(event);
    };
  });
  return { watcher, promise };
}

/** A fresh path under this run's root, created with its parents. */
async function freshRoot(client, name) {
  const path = `${RUN_ROOT}/${name}`;
  await call(client, 'mkdirp', path);
  return path;
}

module.exports = { zookeeper, ADDRESS, connect, call, errorCode, commit, nextEvent, freshRoot };
