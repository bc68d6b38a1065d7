// Decrypts each case of the JSON request on stdin with the AWS Encryption SDK for
// JavaScript: {"cases":[{"id","keyrings":[...],"ciphertext","encryptionContext"?}]}
// -> {"results":[{"id","plaintext","suiteId","encryptionContext"}|{"id","error"}]}.
// A case's encryptionContext, if given, must be contained in the message's: the JS
// ESDK's node decrypt() (5.0.2) takes no encryption context, so, as its
// documentation tells callers to do, this script compares each expected pair with
// the header's after decrypting and fails the case on any difference. Required
// (unstored) context pairs therefore cannot be supplied to this peer.
// argv[2] is an optional JSON object: {"commitmentPolicy", "maxEncryptedDataKeys"}.
'use strict'

const { keyrings, run } = require('./lib')

run(async (client, cs) => {
  const { plaintext, messageHeader } = await client.decrypt(keyrings(cs.keyrings), Buffer.from(cs.ciphertext, 'base64'))
  const got = messageHeader.encryptionContext || {}
  for (const [k, v] of Object.entries(cs.encryptionContext || {})) {
    if (!Object.prototype.hasOwnProperty.call(got, k)) throw new Error(`encryption context mismatch: key ${JSON.stringify(k)} is not in the message`)
    if (got[k] !== v) throw new Error(`encryption context mismatch: the value of ${JSON.stringify(k)} differs`)
  }
  return {
    plaintext: Buffer.from(plaintext).toString('base64'),
    suiteId: messageHeader.suiteId,
    encryptionContext: messageHeader.encryptionContext
  }
}).catch((e) => { process.stderr.write(String(e && e.message) + '\n'); process.exit(1) })
