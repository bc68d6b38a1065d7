// Decrypts each case of the JSON request on stdin with the AWS Encryption SDK for
// JavaScript: {"cases":[{"id","keyrings":[...],"ciphertext","encryptionContext"?}]}
// -> {"results":[{"id","plaintext","suiteId","encryptionContext"}|{"id","error"}]}.
// A case's encryptionContext, if given, is the required encryption context that the
// decryptor checks (and supplies when its keys are not stored in the header).
// argv[2] is an optional JSON object: {"commitmentPolicy", "maxEncryptedDataKeys"}.
'use strict'

const { keyrings, run } = require('./lib')

run(async (client, cs) => {
  const opts = {}
  if (cs.encryptionContext) opts.encryptionContext = cs.encryptionContext
  const { plaintext, messageHeader } = await client.decrypt(keyrings(cs.keyrings), Buffer.from(cs.ciphertext, 'base64'), opts)
  return {
    plaintext: Buffer.from(plaintext).toString('base64'),
    suiteId: messageHeader.suiteId,
    encryptionContext: messageHeader.encryptionContext
  }
}).catch((e) => { process.stderr.write(String(e && e.message) + '\n'); process.exit(1) })
