// A local S3 implementation for og-int-media-s3: s3rver on 127.0.0.1 on a
// port the OS picks, its objects in argv[2], bucket argv[3] made at start.
// Prints "port <n>" once it listens; runs until killed (the test stops it by
// PID). Credentials are s3rver's own: access key S3RVER, secret S3RVER; it
// checks every request's signature (allowMismatchedSignatures: false).
'use strict';
const S3rver = require('s3rver');
const [dir, bucket] = process.argv.slice(2);
if (!dir || !bucket) {
  console.error('usage: s3rver.cjs <dir> <bucket>');
  process.exit(2);
}
new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory: dir,
  vhostBuckets: false,
  allowMismatchedSignatures: false,
  configureBuckets: [{ name: bucket }],
})
  .run()
  .then(({ port }) => console.log(`port ${port}`))
  .catch(e => {
    console.error(e.message);
    process.exit(1);
  });
