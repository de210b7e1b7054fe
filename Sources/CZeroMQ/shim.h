#ifndef BATON_CZEROMQ_SHIM_H
#define BATON_CZEROMQ_SHIM_H
#include <zmq.h>
#include <errno.h>

// zmq.h defines some errno values as expressions (ZMQ_HAUSNUMERO + n) that Swift
// cannot import as macros; these constants carry them across unchanged.
static const int CZMQ_ETERM = ETERM;
static const int CZMQ_EFSM = EFSM;
static const int CZMQ_EHOSTUNREACH = EHOSTUNREACH;
static const int CZMQ_EAGAIN = EAGAIN;
static const int CZMQ_EINTR = EINTR;
#endif
