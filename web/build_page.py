#!/usr/bin/env python3
"""Assembles the web page in the build directory.

    build_page.py SRC_DIR OUT_DIR STAMP FILE... [--built PATH...]
    build_page.py --install SRC_DIR REL_DIR FILE... [--built PATH...]   (meson install script)

Copies each FILE (relative to SRC_DIR) to OUT_DIR, after checking every
vendored file against vendor/SHA256SUMS: a file that does not match fails the
build, so what the browser runs is exactly the pinned libsodium.js release.
The wrappers' bare import of "libsodium" becomes "./libsodium.mjs" in the copy
(see vendor/README.md).  Each PATH after --built (the language catalogs
po2json.py made from po/) is copied to i18n/ under its own name.  Text files get a gzip twin (FILE.gz) that noaber-web
serves to browsers that accept gzip.
"""
import gzip
import hashlib
import os
import sys

COMPRESSED = ('.html', '.js', '.mjs', '.css', '.svg', '.json', '.webmanifest', '.txt')
BARE = b'from"libsodium"'


def main():
    built = []
    if '--built' in sys.argv:
        at = sys.argv.index('--built')
        built = sys.argv[at + 1:]
        del sys.argv[at:]
    if sys.argv[1] == '--install':
        # Installs into $DESTDIR$prefix/REL_DIR, the same way as the build.
        src, rel, files = sys.argv[2], sys.argv[3], sys.argv[4:]
        out = os.path.join(os.environ['MESON_INSTALL_DESTDIR_PREFIX'], rel)
        stamp = None
    else:
        src, out, stamp, files = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    sums = {}
    with open(os.path.join(src, 'vendor', 'SHA256SUMS')) as f:
        for line in f:
            digest, name = line.split()
            sums['vendor/' + name] = digest
    for name, digest in sums.items():
        with open(os.path.join(src, name), 'rb') as f:
            got = hashlib.sha256(f.read()).hexdigest()
        if got != digest:
            sys.exit('build_page.py: %s has SHA-256 %s, vendor/SHA256SUMS says %s: '
                     'the vendored file was changed' % (name, got, digest))
    sources = [(name, os.path.join(src, name)) for name in files]
    sources += [('i18n/' + os.path.basename(path), path) for path in built]
    for name, path in sources:
        if name.startswith('vendor/') and name not in sums and not name.endswith(
                ('SHA256SUMS', 'README.md')):
            sys.exit('build_page.py: %s is not listed in vendor/SHA256SUMS' % name)
        with open(path, 'rb') as f:
            data = f.read()
        if name == 'vendor/libsodium-wrappers.mjs':
            if data.count(BARE) != 1:
                sys.exit('build_page.py: the wrappers no longer import "libsodium" once')
            data = data.replace(BARE, b'from"./libsodium.mjs"')
        dest = os.path.join(out, name)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest + '.tmp', 'wb') as f:
            f.write(data)
        os.replace(dest + '.tmp', dest)
        if name.endswith(COMPRESSED):
            # mtime=0 keeps the build reproducible.
            with open(dest + '.gz.tmp', 'wb') as raw:
                with gzip.GzipFile(fileobj=raw, mode='wb', compresslevel=9, mtime=0) as z:
                    z.write(data)
            os.replace(dest + '.gz.tmp', dest + '.gz')
    if stamp is not None:
        with open(stamp, 'w') as f:
            f.write('\n'.join(files) + '\n')


if __name__ == '__main__':
    main()
