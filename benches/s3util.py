"""S3 chores for benches/s3.sh, with boto3 (endpoint and credentials from the
environment: AWS_ENDPOINT_URL and the rest, as for any AWS tool).

    python3 s3util.py mkbucket BUCKET...
    python3 s3util.py cat BUCKET KEY                 # the object to stdout
    python3 s3util.py upload DIR s3://BUCKET/PREFIX [STAMP]

upload is the createrepo_c peer's upload. It sends every file under DIR (or,
with STAMP, only those modified after STAMP was: what `createrepo_c --update`
and the package copied in changed) to PREFIX/<its path under DIR>, in the order
a careful upload script would use: the packages, then the checksum-named
metadata, then repodata/repomd.xml last; eight uploads at a time within each
stage (boto3's default pool is ten connections). Nothing is listed and nothing
is deleted: the old metadata stays, as cfy-ap keeps replaced objects for its
grace period. It prints how many files it sent.
"""

import os
import sys
from concurrent.futures import ThreadPoolExecutor

import boto3


def upload(root, url, stamp=None):
    since = os.stat(stamp).st_mtime_ns if stamp else None
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    files = []
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = os.path.join(dirpath, name)
            if since is None or os.stat(path).st_mtime_ns > since:
                files.append(os.path.relpath(path, root))
    stages = [
        [f for f in files if not f.startswith("repodata/")],
        [f for f in files if f.startswith("repodata/") and f != "repodata/repomd.xml"],
        [f for f in files if f == "repodata/repomd.xml"],
    ]
    s3 = boto3.client("s3")

    def put(rel):
        with open(os.path.join(root, rel), "rb") as body:
            s3.put_object(Bucket=bucket, Key="%s/%s" % (prefix, rel) if prefix else rel, Body=body)

    with ThreadPoolExecutor(8) as pool:
        for stage in stages:
            list(pool.map(put, sorted(stage)))
    print(len(files))


def main():
    command, args = sys.argv[1], sys.argv[2:]
    if command == "mkbucket":
        s3 = boto3.client("s3")
        for name in args:
            s3.create_bucket(Bucket=name)
    elif command == "cat":
        body = boto3.client("s3").get_object(Bucket=args[0], Key=args[1])["Body"]
        sys.stdout.buffer.write(body.read())
    elif command == "upload":
        upload(*args)
    else:
        sys.exit("unknown command %s" % command)


if __name__ == "__main__":
    main()
