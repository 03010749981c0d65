{
  "targets": [
    {
      "target_name": "sluice",
      "conditions": [
        ["OS!='linux'", {
          # The zero-copy engines are Linux system calls. Elsewhere the
          # target builds nothing, install still succeeds, and the copy
          # engine serves.
          "type": "none"
        }, {
          "sources": [
            "src/addon.cc",
            "src/addon_state.cc",
            "src/bind_args.cc",
            "src/bind_splice.cc",
            "src/bind_thread.cc",
            "src/bind_transfer.cc",
            "src/bind_uring.cc",
            "src/front_door.cc",
            "src/transfer.cc",
            "src/transfer_callback.cc",
            "src/uring_transfer.cc",
            "src/core/dup_socket.cc",
            "src/core/force_errno.cc",
            "src/core/front/access_line.cc",
            "src/core/front/reply.cc",
            "src/core/front/request_head.cc",
            "src/core/front/send_reply.cc",
            "src/core/pipe_pool.cc",
            "src/core/pump.cc",
            "src/core/sendfile.cc",
            "src/core/thread_priority.cc",
            "src/core/splice.cc",
            "src/core/uring/body.cc",
            "src/core/uring/engine.cc",
            "src/core/uring/ring.cc",
            "src/core/write.cc"
          ],
          "include_dirs": [
            "<!(node -p \"require('node-addon-api').include_dir\")",
            "src"
          ],
          "defines": [
            "NAPI_VERSION=8",
            "NAPI_DISABLE_CPP_EXCEPTIONS",
            "NODE_ADDON_API_DISABLE_DEPRECATED"
          ],
          "cflags!": ["-fno-exceptions"],
          "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++20"],
          "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-fvisibility=hidden"],
          "conditions": [
            ["'<!(node -p \"process.env.SLUICE_WERROR || ''\")'=='1'", {
              "cflags_cc": ["-Werror"]
            }]
          ]
        }]
      ]
    }
  ]
}
