# Varnish in front of several sluice replicas.
#
#   varnishd -a 127.0.0.1:8080 -f /etc/varnish/sluice.vcl -s malloc,256m \
#            -p http_gzip_support=off
#
# http_gzip_support=off: Varnish would otherwise rewrite every
# Accept-Encoding to gzip (and gunzip for clients that lack it), so brotli
# variants would never be asked for. Here Accept-Encoding is normalised to
# one coding below, sluice picks the precompressed sibling, and Varnish keeps
# one object per coding through sluice's Vary: Accept-Encoding.
#
# Start the replicas with the same read-only content and a max-age, e.g.
#   sluice /srv/site --host 127.0.0.1 --port 8081 --max-age 60s
#   sluice /srv/site --host 127.0.0.1 --port 8082 --max-age 60s
# Checked by test/deploy/proxy-cache.test.ts.
vcl 4.1;

import directors;

probe sluice_up {
    .url = "/";
    .interval = 1s;
    .timeout = 1s;
    .window = 3;
    .threshold = 2;
}

backend sluice1 {
    .host = "127.0.0.1";
    .port = "8081";
    .probe = sluice_up;
    .connect_timeout = 2s;
}

backend sluice2 {
    .host = "127.0.0.1";
    .port = "8082";
    .probe = sluice_up;
    .connect_timeout = 2s;
}

sub vcl_init {
    # URLs are spread over the replicas by hash; alt= below makes each
    # retry take the next replica instead of the one that just failed.
    new replicas = directors.shard();
    replicas.add_backend(sluice1);
    replicas.add_backend(sluice2);
    replicas.reconfigure();
}

sub vcl_recv {
    # One coding per request, so Vary: Accept-Encoding keeps at most three
    # objects per URL (br, gzip, identity) however browsers spell it
    # (a coding refused with q=0 is not asked for).
    if (req.http.Accept-Encoding ~ "(?i)\bbr\b(?!\s*;\s*q=0(\.0+)?\s*(,|$))") {
        set req.http.Accept-Encoding = "br";
    } elsif (req.http.Accept-Encoding ~ "(?i)\bgzip\b(?!\s*;\s*q=0(\.0+)?\s*(,|$))") {
        set req.http.Accept-Encoding = "gzip";
    } else {
        unset req.http.Accept-Encoding;
    }
}

sub vcl_backend_fetch {
    # Chosen for every attempt: a retry goes to another healthy replica.
    set bereq.backend = replicas.backend(by=HASH, alt=bereq.retries);
}

sub vcl_backend_response {
    # Kept past its max-age so that Varnish revalidates it with
    # If-None-Match / If-Modified-Since (sluice answers 304) instead of
    # fetching the body again.
    set beresp.keep = 1h;
}

sub vcl_backend_error {
    # A replica that refused or reset the connection before answering:
    # another one gets the request.
    if (bereq.retries < 2) {
        return (retry);
    }
}

sub vcl_deliver {
    if (obj.hits > 0) {
        set resp.http.X-Cache = "HIT";
    } else {
        set resp.http.X-Cache = "MISS";
    }
}
