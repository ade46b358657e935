/* shim.h — libnanomsg (Debian libnanomsg-dev) for Swift, plus the macros Swift cannot import. */
#ifndef GLIMPSE_CNANOMSG_SHIM_H
#define GLIMPSE_CNANOMSG_SHIM_H

#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <nanomsg/tcp.h>

/* NN_MSG is ((size_t) -1): "let nanomsg allocate the buffer". */
static inline size_t glimpse_nn_msg(void) { return NN_MSG; }
/* Protocol numbers are macro arithmetic, which Swift does not import. */
static inline int glimpse_nn_req(void) { return NN_REQ; }
static inline int glimpse_nn_rep(void) { return NN_REP; }

#endif
