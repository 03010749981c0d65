/*
 * The C reference for the large-file case: a minimal single-threaded HTTP/1.1
 * server that answers every GET (whatever its path) with the headers and a
 * blocking sendfile(2) loop over one file. One connection at a time,
 * keep-alive, no ranges, no parsing beyond finding the end of each request
 * head. It is what "sendfile from user space" costs with nothing else around
 * it, so the harness can put sluice's server CPU per GiB next to it.
 *
 * usage: sendfile_server <file> [port]   (binds 127.0.0.1; port 0 = any)
 * prints "sendfile_server listening on http://127.0.0.1:PORT" when ready.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static int send_all(int fd, const char *buf, size_t len, int flags) {
    while (len > 0) {
        ssize_t n = send(fd, buf, len, flags);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Serves one keep-alive connection until the client closes it. */
static void serve(int conn, int file, off_t size) {
    char head[256];
    int head_len = snprintf(head, sizeof head,
                            "HTTP/1.1 200 OK\r\n"
                            "Content-Type: application/octet-stream\r\n"
                            "Content-Length: %lld\r\n"
                            "Connection: keep-alive\r\n\r\n",
                            (long long)size);
    char req[16384];
    size_t have = 0;
    for (;;) {
        /* Find the end of the next request head ("\r\n\r\n"). */
        char *end = have >= 4 ? memmem(req, have, "\r\n\r\n", 4) : NULL;
        if (end == NULL) {
            if (have == sizeof req) return; /* head too large */
            ssize_t n = recv(conn, req + have, sizeof req - have, 0);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return;
            have += (size_t)n;
            continue;
        }
        size_t used = (size_t)(end - req) + 4;
        memmove(req, req + used, have - used);
        have -= used;

        if (send_all(conn, head, (size_t)head_len, MSG_MORE) < 0) return;
        off_t off = 0;
        while (off < size) {
            size_t chunk = size - off > 0x7ffff000 ? 0x7ffff000 : (size_t)(size - off);
            ssize_t n = sendfile(conn, file, &off, chunk);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return; /* error, or the file shrank: drop the connection */
        }
    }
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s <file> [port]\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int file = open(argv[1], O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (file < 0 || fstat(file, &st) < 0) {
        perror(argv[1]);
        return 1;
    }
    int lst = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lst, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(argc > 2 ? (unsigned short)atoi(argv[2]) : 0);
    if (bind(lst, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lst, 128) < 0) {
        perror("bind/listen");
        return 1;
    }
    socklen_t alen = sizeof addr;
    getsockname(lst, (struct sockaddr *)&addr, &alen);
    printf("sendfile_server listening on http://127.0.0.1:%d\n", ntohs(addr.sin_port));
    fflush(stdout);
    for (;;) {
        int conn = accept4(lst, NULL, NULL, SOCK_CLOEXEC);
        if (conn < 0) {
            if (errno == EINTR) continue;
            perror("accept");
            return 1;
        }
        setsockopt(conn, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        serve(conn, file, st.st_size);
        close(conn);
    }
}
