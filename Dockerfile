# sluice: static-file HTTP server, response bodies sent zero-copy.
#
#   docker build -t sluice .
#   docker run --init -p 8080:8080 -v "$PWD/site:/srv:ro" sluice
#
# Without a volume the image serves its bundled demo site (public/ -> /srv).
# Arguments after the image name replace CMD, e.g. `... sluice /srv --engine sendfile --health /healthz`;
# HOST and PORT come from the environment (`-e PORT=9000 -p 9000:9000`).
# --init gives the server a PID 1 that forwards SIGTERM, so `docker stop` is prompt.
# The server runs as the non-root `node` user and exits 0 once drained.
#
# io_uring in a container: the runtime's default seccomp profile blocks
# io_uring_setup (Docker's answers EPERM, podman's ENOSYS). `--engine auto`
# (the default here) serves with sendfile and says on its second line of
# output that io_uring is unavailable and why; `--engine io_uring` refuses to
# start with that reason (exit code 2). To let io_uring run, start the
# container with deploy/seccomp-io_uring.json from this repository: the
# default profile with io_uring_setup, io_uring_enter and io_uring_register
# added to its allow list.
#
#   docker run --init -p 8080:8080 --security-opt seccomp=deploy/seccomp-io_uring.json \
#     sluice /srv --engine io_uring
#
# Podman builds it too (`podman build --format docker`, which keeps the
# HEALTHCHECK); deploy/container-check.sh builds and checks it that way.

# ---- build: compile the native addon and the TypeScript ----------------------
FROM node:26-trixie-slim AS build

# node-gyp's toolchain (g++ brings libc6-dev and linux-libc-dev, whose
# <linux/io_uring.h> the addon uses). native/build.js points node-gyp at the
# headers in /usr/local/include/node, so no Node headers are downloaded.
RUN apt-get update \
 && apt-get install -y --no-install-recommends g++ make python3 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Each step copies only what it needs, so a layer is rebuilt only when its
# inputs change: the dependencies with the lockfile, the addon with native/,
# the JavaScript with server/. An edit to public/ rebuilds none of them.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund

# SLUICE_REQUIRE_NATIVE=1 makes a failed addon build fail the image build,
# instead of installing a server that can only `copy`.
COPY native/ native/
RUN SLUICE_REQUIRE_NATIVE=1 node native/build.js

COPY tsconfig.json ./
COPY server/ server/
RUN npx tsc -p tsconfig.json \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

# ---- runtime ------------------------------------------------------------------
FROM node:26-trixie-slim

WORKDIR /app

COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/native/build/Release/sluice.node ./native/build/Release/sluice.node
# Default content, last so that editing it rebuilds nothing above; mount
# your own site over it (read-only is enough).
COPY public/ /srv/

USER node

ENV HOST=0.0.0.0 PORT=8080 NODE_ENV=production
EXPOSE 8080

# No curl in the slim image: ask Node. --health /healthz answers 200 while
# serving and 503 while draining; an answer below 500 counts as up, so a CMD
# given without --health (its /healthz a 404) is still checked for a live server.
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz',{signal:AbortSignal.timeout(3000)}).then(r=>process.exit(r.status<500?0:1),()=>process.exit(1))"]

ENTRYPOINT ["node", "dist/cli.js"]
CMD ["/srv", "--engine", "auto", "--health", "/healthz"]
