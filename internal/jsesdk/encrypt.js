// Encrypts each case of the JSON request on stdin with the AWS Encryption SDK for
// JavaScript: {"cases":[{"id","keyrings":[...],"suiteId","frameLength",
// "encryptionContext","plaintext"}]} -> {"results":[{"id","ciphertext"}|{"id","error"}]}.
// argv[2] is an optional JSON object: {"commitmentPolicy", "maxEncryptedDataKeys"}.
'use strict'

const { keyrings, run } = require('./lib')

run(async (client, cs) => {
  const opts = { encryptionContext: cs.encryptionContext || {} }
  if (cs.suiteId) opts.suiteId = cs.suiteId
  if (cs.frameLength) opts.frameLength = cs.frameLength
  const { result } = await client.encrypt(keyrings(cs.keyrings), Buffer.from(cs.plaintext || '', 'base64'), opts)
  return { ciphertext: Buffer.from(result).toString('base64') }
}).catch((e) => { process.stderr.write(String(e && e.message) + '\n'); process.exit(1) })
