// zlib's inflate/deflate for PNG (Debian: zlib1g-dev).
#include <zlib.h>
