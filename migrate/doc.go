// Package migrate moves encrypted objects from their keys to other keys, at
// scale: AWS Encryption SDK messages (resealed under a new data key) or raw KMS
// ciphertext blobs (through [reencrypt.Engine]), in a local directory or any
// gocloud.dev/blob bucket (s3://, gs://, azblob://, mem://), in place or copied
// to another bucket or prefix. The keyport command's "migrate" is a thin layer
// over [Run]; "migrate report" over [MergeReports].
//
// # Safety
//
// An object is replaced only by a new one that has been verified: decrypted in
// full (header, key commitment, every frame, the signature) to the same
// plaintext, by SHA-256, and wrapped by exactly the destination keys. In place,
// the replacement carries the store's precondition on the version that was read
// (If-Match on the ETag for S3 and Azure, the generation for Cloud Storage; for
// a local file its inode, size and times, checked just before the rename), so
// an object another writer changed meanwhile is left alone and reported
// (reason changed-during-migration). Objects that are not messages (or blobs),
// or are under none of the From keys, are skipped and never fail the run.
// Local files are written to a temporary file beside them, synced and renamed;
// durability is paid per batch (every file of a batch synced, then renamed, then
// each directory synced once), and a file is never renamed before its own data
// is durable.
//
// # Efficiency
//
// Each object is read once and decrypted once at the source: the re-encryption
// hashes the plaintext as it passes, and the new message is verified with the
// data key the destination just wrapped (kept in memory for that one object,
// then wiped), so a message costs two key-service calls (one unwrap, one wrap)
// and, for suites with signatures, two verifications and one signature. The
// destination keyring is built once per run and each named key is described
// once; a canary message proves once per run that the destination keys unwrap
// what they wrap. Objects from [Options.LargeObject] on are streamed with their
// frames sealed and opened on all cores; smaller ones are held in buffers each
// worker reuses. Retries with backoff come from the Front's [backends.Retry]
// interceptor; [Options.Jobs] bounds the objects, and so the key-service calls,
// in flight.
//
// # Journal and resumption
//
// Each run keeps a journal: an SQLite database (modernc.org/sqlite) beside the
// run, not in the bucket, because it is written for every object and needs
// transactions (an object store has neither cheap small writes nor
// transactions, and a journal object in the bucket would be listed with the
// data and need write access to a source that a copy leaves untouched). It
// records each object's state: pending, done (with the new object's digest and
// key), skipped (with the reason) or failed (with the error). A rerun with the
// same journal lists the source again, leaves the objects that are done or
// skipped and unchanged since (by the store's fingerprint) without reading
// them or calling a key service, tries the failed ones again, and resumes the
// rest. An object whose replacement was under way when a run was killed is
// recognised by its digest. The journal is an account, never a safeguard:
// every object is checked before it is replaced, whatever the journal says.
//
// # Shards
//
// [Shard] K/N takes the objects whose key hashes (FNV-1a) to K modulo N, so N
// copies of one command on N machines, K = 0..N-1, cover every object exactly
// once with no coordination; each keeps its own journal and report, and
// [MergeReports] adds the reports up. With a Kubernetes Indexed Job, K is the
// pod's JOB_COMPLETION_INDEX (see the README).
package migrate
