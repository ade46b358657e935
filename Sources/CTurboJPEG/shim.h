// Exposes libjpeg-turbo's TurboJPEG API (Debian libturbojpeg0-dev) to Swift; only GlimpseImage imports it.
#ifndef GLIMPSE_CTURBOJPEG_SHIM_H
#define GLIMPSE_CTURBOJPEG_SHIM_H

#include <turbojpeg.h>

#endif
