/*
 * The C ceiling for small files: a minimal single-threaded, non-blocking
 * epoll HTTP/1.1 server that reads one file into memory at start-up and
 * answers every GET (whatever its path) with the headers and those bytes,
 * and every HEAD with the headers alone. Many connections at once,
 * keep-alive, pipelining; no ranges, no parsing beyond the method and the
 * end of each request head (a request with a body is not supported). Any
 * other method, a head over 16 KiB, EOF or an error closes the connection.
 * It is what answering from memory costs on this machine with nothing else
 * around it, and a check on when the load generator is the limit.
 *
 * Responses are one buffer (headers, then the file: a HEAD answer is its
 * prefix) sent with writev. What a socket does not take is kept as the
 * responses still owed plus the offset into the first one; the connection
 * then waits for EPOLLOUT and reads nothing more until they are all sent.
 *
 * usage: epoll_server <file> [port]   (binds 127.0.0.1; port 0 = any)
 * prints "epoll_server listening on http://127.0.0.1:PORT" when ready.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define IN_CAP 16384
#define OWED_CAP (IN_CAP / 4 + 1) /* the most heads one full buffer can hold */
#define IOVS 64

enum { OWE_HEAD = 0, OWE_GET = 1 };

struct conn {
    int fd;
    uint32_t interest;  /* EPOLLIN or EPOLLOUT */
    size_t in_len;      /* bytes in `in` */
    size_t scan_from;   /* where to look for the next "\r\n\r\n" */
    size_t out_off;     /* bytes of the first owed response already sent */
    unsigned owed_first, owed_count;
    unsigned char owed[OWED_CAP]; /* a ring of OWE_GET / OWE_HEAD */
    char in[IN_CAP];
};

static char *resp;         /* headers + file */
static size_t resp_len[2]; /* [OWE_HEAD] headers only, [OWE_GET] everything */
static int ep;

static void drop(struct conn *c) {
    close(c->fd); /* also removes it from the epoll set */
    free(c);
}

/* Moves complete request heads from `in` to the owed ring: 1 when the ring
 * filled (more may be left), 0 when none is left, -1 on a bad request. */
static int parse(struct conn *c) {
    size_t used = 0;
    int full = 0;
    for (;;) {
        if (c->owed_count == OWED_CAP) {
            full = 1;
            break;
        }
        size_t from = c->scan_from > used ? c->scan_from : used;
        char *end = memmem(c->in + from, c->in_len - from, "\r\n\r\n", 4);
        if (end == NULL) {
            c->scan_from = c->in_len >= 3 ? c->in_len - 3 : 0;
            break;
        }
        const char *req = c->in + used;
        size_t req_len = (size_t)(end - req);
        unsigned char kind;
        if (req_len >= 4 && memcmp(req, "GET ", 4) == 0) kind = OWE_GET;
        else if (req_len >= 5 && memcmp(req, "HEAD ", 5) == 0) kind = OWE_HEAD;
        else return -1;
        c->owed[(c->owed_first + c->owed_count) % OWED_CAP] = kind;
        c->owed_count++;
        used = (size_t)(end - c->in) + 4;
    }
    if (used > 0) {
        memmove(c->in, c->in + used, c->in_len - used);
        c->in_len -= used;
        c->scan_from = c->scan_from > used ? c->scan_from - used : 0;
    }
    return full;
}

/* Sends what is owed until all of it is sent (0), the socket is full (1) or an error (-1). */
static int flush(struct conn *c) {
    while (c->owed_count > 0) {
        struct iovec iov[IOVS];
        int n_iov = 0;
        for (unsigned i = 0; i < c->owed_count && n_iov < IOVS; i++) {
            size_t len = resp_len[c->owed[(c->owed_first + i) % OWED_CAP]];
            size_t skip = i == 0 ? c->out_off : 0;
            iov[n_iov].iov_base = resp + skip;
            iov[n_iov].iov_len = len - skip;
            n_iov++;
        }
        ssize_t n = writev(c->fd, iov, n_iov);
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno == EAGAIN || errno == EWOULDBLOCK ? 1 : -1;
        }
        size_t sent = (size_t)n;
        while (sent > 0) {
            size_t left = resp_len[c->owed[c->owed_first]] - c->out_off;
            if (sent < left) {
                c->out_off += sent;
                break;
            }
            sent -= left;
            c->out_off = 0;
            c->owed_first = (c->owed_first + 1) % OWED_CAP;
            c->owed_count--;
        }
    }
    return 0;
}

static int want(struct conn *c, uint32_t interest) {
    if (c->interest == interest) return 0;
    struct epoll_event ev = {.events = interest, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) return -1;
    c->interest = interest;
    return 0;
}

/* Answers what has been read: -1 closes the connection. */
static int answer(struct conn *c) {
    for (;;) {
        int more = parse(c);
        if (more < 0) return -1;
        int r = flush(c);
        if (r < 0) return -1;
        if (r > 0) return want(c, EPOLLOUT);
        if (!more) break;
    }
    if (c->in_len == IN_CAP) return -1; /* a head too large */
    return want(c, EPOLLIN);
}

static void on_readable(struct conn *c) {
    ssize_t n = recv(c->fd, c->in + c->in_len, IN_CAP - c->in_len, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    if (n <= 0) {
        drop(c);
        return;
    }
    c->in_len += (size_t)n;
    if (answer(c) < 0) drop(c);
}

static void on_listener(int lst) {
    for (;;) {
        int fd = accept4(lst, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) perror("accept");
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *c = calloc(1, sizeof *c);
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->interest = EPOLLIN;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) drop(c);
    }
}

static int load(const char *name) {
    int file = open(name, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (file < 0 || fstat(file, &st) < 0) return -1;
    size_t size = (size_t)st.st_size;
    char head[256];
    int head_len = snprintf(head, sizeof head,
                            "HTTP/1.1 200 OK\r\n"
                            "Content-Type: application/octet-stream\r\n"
                            "Content-Length: %zu\r\n"
                            "Connection: keep-alive\r\n\r\n",
                            size);
    resp = malloc((size_t)head_len + size);
    if (resp == NULL) return -1;
    memcpy(resp, head, (size_t)head_len);
    size_t have = 0;
    while (have < size) {
        ssize_t n = read(file, resp + head_len + have, size - have);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1; /* an error, or the file shrank */
        have += (size_t)n;
    }
    close(file);
    resp_len[OWE_HEAD] = (size_t)head_len;
    resp_len[OWE_GET] = (size_t)head_len + size;
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s <file> [port]\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (load(argv[1]) < 0) {
        perror(argv[1]);
        return 1;
    }
    int lst = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lst, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(argc > 2 ? (unsigned short)atoi(argv[2]) : 0);
    if (bind(lst, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lst, SOMAXCONN) < 0) {
        perror("bind/listen");
        return 1;
    }
    ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lst, &lev) < 0) {
        perror("epoll");
        return 1;
    }
    socklen_t alen = sizeof addr;
    getsockname(lst, (struct sockaddr *)&addr, &alen);
    printf("epoll_server listening on http://127.0.0.1:%d\n", ntohs(addr.sin_port));
    fflush(stdout);
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            uint32_t e = evs[i].events;
            if (c == NULL) on_listener(lst);
            else if (e & (EPOLLERR | EPOLLHUP)) drop(c);
            else if (e & EPOLLOUT) {
                if (answer(c) < 0) drop(c);
            } else if (e & EPOLLIN) on_readable(c);
        }
    }
}
