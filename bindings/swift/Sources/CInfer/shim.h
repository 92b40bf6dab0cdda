/* The C API, from the include directory pkg-config's `infer` names (Cflags: -I...). */
#include <infer.h>
