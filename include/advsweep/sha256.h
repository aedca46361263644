/* sha256.h — SHA-256 (FIPS 180-4), incremental, for the per-point checksums of
 * sweep files (docs/layout.md, /checksum): the same digest Python's hashlib
 * gives, so the analysis can verify a file without advsweep. */
#ifndef ADVSWEEP_SHA256_H
#define ADVSWEEP_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t h[8];
    uint64_t bytes;        /* message length so far */
    unsigned char buf[64]; /* pending partial block */
    size_t used;
} Sha256;

void sha256_init(Sha256 *s);
void sha256_update(Sha256 *s, const void *data, size_t len);
void sha256_final(Sha256 *s, unsigned char digest[32]);

#endif
