// Shared helpers of the keyport interop harness for the AWS Encryption SDK for
// JavaScript. Requests arrive as one JSON document on stdin; answers leave as one
// JSON document on stdout. Binary fields are base64. Nothing secret is logged.
'use strict'

const crypto = require('crypto')
const esdk = require('@aws-crypto/client-node')

const {
  RawAesKeyringNode,
  RawAesWrappingSuiteIdentifier,
  RawRsaKeyringNode,
  KmsKeyringNode,
  MultiKeyringNode,
  getClient,
  KMS,
  CommitmentPolicy,
  buildClient
} = esdk

async function readStdin () {
  const chunks = []
  for await (const c of process.stdin) chunks.push(c)
  return JSON.parse(Buffer.concat(chunks).toString('utf8'))
}

function args () {
  return process.argv.length > 2 ? JSON.parse(process.argv[2]) : {}
}

function client (a) {
  const policy = CommitmentPolicy[a.commitmentPolicy || 'REQUIRE_ENCRYPT_REQUIRE_DECRYPT']
  if (!policy) throw new Error('unknown commitment policy')
  const opts = { commitmentPolicy: policy }
  if (a.maxEncryptedDataKeys) opts.maxEncryptedDataKeys = a.maxEncryptedDataKeys
  return buildClient(opts)
}

const aesSuites = {
  16: RawAesWrappingSuiteIdentifier.AES128_GCM_IV12_TAG16_NO_PADDING,
  24: RawAesWrappingSuiteIdentifier.AES192_GCM_IV12_TAG16_NO_PADDING,
  32: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING
}

const rsaPaddings = {
  pkcs1: { padding: crypto.constants.RSA_PKCS1_PADDING },
  'oaep-sha1': { padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
  'oaep-sha256': { padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
  'oaep-sha384': { padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha384' },
  'oaep-sha512': { padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha512' }
}

// keyring builds one keyring from its JSON description.
function keyring (d) {
  switch (d.type) {
    case 'raw-aes': {
      const key = Buffer.from(d.key, 'base64')
      const wrappingSuite = aesSuites[key.length]
      if (!wrappingSuite) throw new Error('raw-aes: bad key length')
      return new RawAesKeyringNode({
        keyName: d.name,
        keyNamespace: d.namespace,
        unencryptedMasterKey: new Uint8Array(key),
        wrappingSuite,
        utf8Sorting: d.utf8Sorting !== false
      })
    }
    case 'raw-rsa': {
      const p = rsaPaddings[d.padding || 'oaep-sha256']
      if (!p) throw new Error('raw-rsa: unknown padding')
      const rsaKey = {}
      if (d.privateKeyPem) rsaKey.privateKey = d.privateKeyPem
      if (d.publicKeyPem) rsaKey.publicKey = d.publicKeyPem
      return new RawRsaKeyringNode({ keyName: d.name, keyNamespace: d.namespace, rsaKey, ...p })
    }
    case 'aws-kms': {
      const cfg = {}
      if (d.endpoint) cfg.endpoint = d.endpoint
      if (d.region) cfg.region = d.region
      if (d.accessKeyId) cfg.credentials = { accessKeyId: d.accessKeyId, secretAccessKey: d.secretAccessKey || '' }
      const clientProvider = getClient(KMS, cfg)
      const k = { clientProvider }
      if (d.discovery) {
        k.discovery = true
        if (d.discoveryFilter) k.discoveryFilter = d.discoveryFilter
      } else {
        if (d.generatorKeyId) k.generatorKeyId = d.generatorKeyId
        if (d.keyIds) k.keyIds = d.keyIds
      }
      if (d.grantTokens) k.grantTokens = d.grantTokens
      return new KmsKeyringNode(k)
    }
  }
  throw new Error('unknown keyring type ' + JSON.stringify(d.type))
}

// keyrings builds the keyring of a case: the first description is the generator,
// the others are children of a multi-keyring.
function keyrings (ds) {
  if (!Array.isArray(ds) || ds.length === 0) throw new Error('no keyrings')
  if (ds.length === 1) return keyring(ds[0])
  const [generator, ...children] = ds.map(keyring)
  return new MultiKeyringNode({ generator, children })
}

// run answers every case of the request in order with fn, catching each case's error.
async function run (fn) {
  const a = args()
  const req = await readStdin()
  const c = client(a)
  const results = []
  for (const cs of req.cases || []) {
    try {
      results.push({ id: cs.id, ...(await fn(c, cs)) })
    } catch (e) {
      results.push({ id: cs.id, error: String((e && e.message) || e) })
    }
  }
  process.stdout.write(JSON.stringify({ results }))
}

module.exports = { keyrings, run }
