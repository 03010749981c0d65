# sluice: static-file HTTP server, response bodies sent zero-copy.
#
#   docker build -t sluice .
#   docker run --init -p 8080:8080 -v "$PWD/site:/srv:ro" sluice
#
# Without a volume the image serves its bundled demo site (public/ -> /srv).
# Arguments after the image name replace CMD, e.g. `... sluice /srv --engine sendfile`;
# HOST and PORT come from the environment (`-e PORT=9000 -p 9000:9000`).
# --init gives the server a PID 1 that forwards SIGTERM, so `docker stop` is prompt.
#
# io_uring under Docker: the default seccomp profile blocks io_uring_setup, which
# then returns EPERM. `--engine auto` (the default here) serves with sendfile and
# says on its second line of output that io_uring is unavailable and why
# (`io_uring: io_uring_setup: EPERM`); `--engine io_uring`
# refuses to start with `io_uring_setup: EPERM`. To let io_uring run, start the
# container with a seccomp profile that also allows io_uring_setup, io_uring_enter
# and io_uring_register (a copy of Docker's default profile with those three names
# added to its allow list):
#
#   docker run --init -p 8080:8080 --security-opt seccomp=./seccomp-io_uring.json sluice

# ---- build: compile the native addon and the TypeScript ----------------------
FROM node:22-bookworm-slim AS build

# node-gyp's toolchain (g++ brings libc6-dev and linux-libc-dev, whose
# <linux/io_uring.h> the addon uses). native/build.js points node-gyp at the
# headers in /usr/local/include/node, so no Node headers are downloaded.
RUN apt-get update \
 && apt-get install -y --no-install-recommends g++ make python3 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app

COPY package.json package-lock.json ./
# The rest of the sources (server/, native/, tsconfig.json, public/, ...);
# .dockerignore keeps out node_modules, dist and any local native/build.
COPY . .

# `npm ci` runs the package's own scripts: `install` builds the addon
# (native/build.js -> native/build/Release/sluice.node) and `prepare` compiles
# the TypeScript into dist/. SLUICE_REQUIRE_NATIVE=1 makes a failed addon build
# fail the image build, instead of installing a server that can only `copy`.
RUN SLUICE_REQUIRE_NATIVE=1 npm ci --no-audit --no-fund \
 && npm prune --omit=dev

# ---- runtime ------------------------------------------------------------------
FROM node:22-bookworm-slim

WORKDIR /app

COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/native/build/Release/sluice.node ./native/build/Release/sluice.node
# Default content; mount your own site over it (read-only is enough).
COPY --from=build /app/public /srv

USER node

ENV HOST=0.0.0.0 PORT=8080 NODE_ENV=production
EXPOSE 8080

# No curl in the slim image: ask Node. Any answer below 500 counts as up, so a
# mounted site without an index.html (404 on /) is still healthy.
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/',{signal:AbortSignal.timeout(3000)}).then(r=>process.exit(r.status<500?0:1),()=>process.exit(1))"]

ENTRYPOINT ["node", "dist/cli.js"]
CMD ["/srv", "--engine", "auto"]
