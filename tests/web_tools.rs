//! webfetch, cache_docs, websearch and codesearch over the protocol, against fake servers on
//! 127.0.0.1 (the only network these tests touch).

mod common;
mod fake_http;

use std::time::Duration;

use common::*;
use fake_http::{FakeServer, Response};
use serde_json::{Value, json};

async fn call(c: &mut Client, tool: &str, args: Value) -> Value {
    c.tool(tool, args).await
}

async fn call_err(c: &mut Client, tool: &str, args: Value) -> RpcError {
    c.tool_err(tool, args).await
}

const TOOL_FAILED: i64 = -32016;
const INVALID_PARAMS: i64 = -32602;

fn assert_err(err: &RpcError, code: i64, needles: &[&str]) {
    assert_eq!(err.code, code, "{err:?}");
    for needle in needles {
        assert!(
            err.message.contains(needle),
            "`{needle}` not in: {}",
            err.message
        );
    }
}

/// The web config of a test: 127.0.0.1 allowed (the fake servers live there), short timeouts.
fn web(extra: Value) -> Value {
    let mut web = json!({
        "allowHosts": ["127.0.0.1"],
        "timeoutMs": 3000,
        "connectTimeoutMs": 1000,
    });
    for (k, v) in extra.as_object().unwrap() {
        web[k] = v.clone();
    }
    json!({ "web": web })
}

const ARTICLE: &str = r#"<!doctype html><html><head><title>Spawning | Tokio</title></head>
<body>
<nav><a href="/">Home</a> <a href="/blog">Blog</a></nav>
<header><p>Site banner</p></header>
<main><article>
<h1>Spawning</h1>
<p>We are going to shift gears and start working on the Redis server. Tasks are the unit
of execution managed by the scheduler. Spawning a task submits it to the Tokio scheduler,
which then ensures that the task executes when it has work to do.</p>
<h2>Concurrency</h2>
<p>Our server has a slight problem (besides only responding with errors). It processes
inbound requests one at a time. When a connection is accepted, the server stays inside the
accept loop block until the response is fully written to the socket.</p>
<pre><code>tokio::spawn(async move { process(socket).await; });</code></pre>
</article></main>
<footer>Copyright footer</footer>
<script>track()</script>
</body></html>"#;

fn site() -> impl Fn(&fake_http::Request) -> Response + Send + Sync + 'static {
    |r| match r.path() {
        "/article" => Response::html(ARTICLE),
        "/api" => Response::json(json!({"name": "tokio", "versions": [1, 2]})),
        "/plain" => Response::new(200, "text/plain", "line one\nline two\n"),
        "/long" => Response::new(200, "text/plain", "x".repeat(5000)),
        "/latin1" => Response::new(200, "text/plain; charset=iso-8859-1", b"caf\xe9".to_vec()),
        "/image" => Response::new(200, "image/png", b"\x89PNG\r\n\x1a\n\0\0".to_vec()),
        "/missing" => Response::new(404, "text/html", "<h1>Not Found</h1>"),
        "/huge" => Response::new(200, "text/plain", "y".repeat(64 * 1024)),
        "/huge-stream" => Response::new(200, "text/plain", "z".repeat(64 * 1024)).without_length(),
        "/slow" => Response::html(ARTICLE).delayed(Duration::from_secs(5)),
        "/loop" => Response::redirect("/loop"),
        "/to-article" => Response::redirect("/article"),
        _ => Response::new(404, "text/plain", "no such page"),
    }
}

#[tokio::test]
async fn tools_list_has_the_web_tools_with_their_limits() {
    let (mut c, _h, _ws) = start(json!({})).await;
    let r = c.ok("orchestrator/tools/list", json!({})).await;
    let tools = r["tools"].as_array().unwrap();
    let schema = |name: &str| {
        tools
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing"))["inputSchema"]
            .clone()
    };
    let fetch = schema("webfetch");
    assert_eq!(fetch["required"], json!(["url"]));
    assert_eq!(
        fetch["properties"]["format"]["enum"],
        json!(["markdown", "text", "html"])
    );
    assert_eq!(fetch["properties"]["maxLength"]["maximum"], 1_000_000);
    let cache = schema("cache_docs");
    assert_eq!(cache["required"], json!(["action"]));
    assert_eq!(
        cache["properties"]["action"]["enum"],
        json!(["list", "get", "clear", "stats"])
    );
    let search = schema("websearch");
    assert_eq!(search["required"], json!(["query"]));
    assert_eq!(search["properties"]["maxResults"]["maximum"], 20);
    let code = schema("codesearch");
    assert_eq!(code["required"], json!(["query"]));
    assert_eq!(code["properties"]["language"]["type"], "array");
}

#[tokio::test]
async fn webfetch_turns_html_into_markdown_and_caches_it() {
    let server = FakeServer::start(site()).await;
    let (mut c, _h, ws) = start(web(json!({}))).await;
    let url = server.url("/article");

    let r = call(&mut c, "webfetch", json!({"url": url})).await;
    let md = r["output"].as_str().unwrap();
    assert!(md.contains("## Concurrency"), "{md}");
    assert!(md.contains("tokio::spawn(async move"), "{md}");
    for chrome in ["Site banner", "Copyright footer", "track()", "Blog"] {
        assert!(!md.contains(chrome), "{chrome} in {md}");
    }
    assert_eq!(r["title"], "Spawning | Tokio");
    assert_eq!(r["metadata"]["mainContent"], true);
    assert_eq!(r["metadata"]["cached"], false);
    assert_eq!(r["metadata"]["status"], 200);
    let file = r["metadata"]["cacheFile"].as_str().unwrap().to_string();
    let on_disk = std::fs::read_to_string(ws.root().join(".opencode/docs").join(&file)).unwrap();
    assert_eq!(on_disk, md);
    assert!(
        server.requests()[0].headers["user-agent"].starts_with("opencode-orchestrator/"),
        "{:?}",
        server.requests()[0].headers
    );

    // Second time: from the cache, no request.
    let again = call(
        &mut c,
        "webfetch",
        json!({"url": format!("{url}#concurrency")}),
    )
    .await;
    assert_eq!(again["metadata"]["cached"], true);
    assert_eq!(again["metadata"]["kind"], "html", "as a fresh fetch says");
    assert_eq!(again["output"], r["output"]);
    assert_eq!(server.hits("/article"), 1);

    // refresh goes to the network again.
    let fresh = call(&mut c, "webfetch", json!({"url": url, "refresh": true})).await;
    assert_eq!(fresh["metadata"]["cached"], false);
    assert_eq!(server.hits("/article"), 2);

    // Other renderings are not cached, and are what was asked for.
    let text = call(&mut c, "webfetch", json!({"url": url, "format": "text"})).await;
    assert!(!text["output"].as_str().unwrap().contains("##"));
    let html = call(&mut c, "webfetch", json!({"url": url, "format": "html"})).await;
    assert_eq!(html["output"], ARTICLE);
    let full = call(&mut c, "webfetch", json!({"url": url, "extract": "full"})).await;
    assert_eq!(full["metadata"]["mainContent"], false);
    assert_eq!(server.hits("/article"), 5);

    // Redirects are followed; the cache keys the URL asked for.
    let r = call(
        &mut c,
        "webfetch",
        json!({"url": server.url("/to-article")}),
    )
    .await;
    assert!(
        r["metadata"]["finalUrl"]
            .as_str()
            .unwrap()
            .ends_with("/article")
    );
}

#[tokio::test]
async fn webfetch_reads_json_text_and_charsets_and_cuts_long_pages() {
    let server = FakeServer::start(site()).await;
    let (mut c, _h, _ws) = start(web(json!({}))).await;

    let r = call(&mut c, "webfetch", json!({"url": server.url("/api")})).await;
    assert_eq!(
        r["output"],
        "{\n  \"name\": \"tokio\",\n  \"versions\": [\n    1,\n    2\n  ]\n}"
    );
    assert_eq!(r["metadata"]["kind"], "json");

    let r = call(&mut c, "webfetch", json!({"url": server.url("/plain")})).await;
    assert_eq!(r["output"], "line one\nline two\n");

    let r = call(&mut c, "webfetch", json!({"url": server.url("/latin1")})).await;
    assert_eq!(r["output"], "café");

    let r = call(
        &mut c,
        "webfetch",
        json!({"url": server.url("/long"), "maxLength": 1000}),
    )
    .await;
    let out = r["output"].as_str().unwrap();
    assert!(out.starts_with(&"x".repeat(1000)));
    assert!(
        out.contains(
            "[... truncated: showed characters 0-1000 of 5000; call again with offset=1000"
        ),
        "{out}"
    );
    assert_eq!(r["metadata"]["truncated"], true);
    let r = call(
        &mut c,
        "webfetch",
        json!({"url": server.url("/long"), "maxLength": 1000, "offset": 4500}),
    )
    .await;
    assert_eq!(r["output"], "x".repeat(500));
    assert_eq!(r["metadata"]["truncated"], false);
    assert_eq!(r["metadata"]["cached"], true);
}

#[tokio::test]
async fn webfetch_errors_say_what_went_wrong() {
    let server = FakeServer::start(site()).await;
    let (mut c, _h, _ws) = start(web(
        json!({"maxBytes": 4096, "timeoutMs": 500, "maxRedirects": 3}),
    ))
    .await;
    let cases: Vec<(Value, i64, Vec<&str>)> = vec![
        (
            json!({"url": server.url("/missing")}),
            TOOL_FAILED,
            vec!["HTTP 404", "Not Found"],
        ),
        (
            json!({"url": server.url("/image")}),
            TOOL_FAILED,
            vec!["image/png", "cannot turn"],
        ),
        (
            json!({"url": server.url("/huge")}),
            TOOL_FAILED,
            vec!["more than 4096 bytes", "web.maxBytes"],
        ),
        (
            json!({"url": server.url("/huge-stream")}),
            TOOL_FAILED,
            vec!["more than 4096 bytes"],
        ),
        (
            json!({"url": server.url("/slow")}),
            TOOL_FAILED,
            vec!["did not answer within 500 ms"],
        ),
        (
            json!({"url": server.url("/loop")}),
            TOOL_FAILED,
            vec!["web.maxRedirects"],
        ),
        (
            json!({"url": "not a url"}),
            INVALID_PARAMS,
            vec!["url", "not a valid URL"],
        ),
        (
            json!({"url": "ftp://127.0.0.1/file"}),
            INVALID_PARAMS,
            vec!["ftp", "only http and https"],
        ),
        (
            json!({"url": "http://"}),
            INVALID_PARAMS,
            vec!["not a valid URL"],
        ),
        (json!({}), INVALID_PARAMS, vec!["url"]),
        (
            json!({"url": server.url("/x"), "maxLength": 5}),
            INVALID_PARAMS,
            vec!["maxLength"],
        ),
        (
            json!({"url": server.url("/x"), "format": "pdf"}),
            INVALID_PARAMS,
            vec!["format"],
        ),
        (
            json!({"url": server.url("/x"), "bogus": 1}),
            INVALID_PARAMS,
            vec!["bogus"],
        ),
    ];
    for (args, code, needles) in cases {
        let err = call_err(&mut c, "webfetch", args.clone()).await;
        assert_eq!(err.code, code, "{args}: {err:?}");
        for needle in needles {
            assert!(
                err.message.contains(needle),
                "{args}: `{needle}` not in {}",
                err.message
            );
        }
    }
    // Nothing listens on a port we just closed.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = call_err(
        &mut c,
        "webfetch",
        json!({"url": format!("http://127.0.0.1:{port}/")}),
    )
    .await;
    assert_err(&err, TOOL_FAILED, &["cannot reach", "127.0.0.1"]);
    // Failures cache nothing.
    let r = call(&mut c, "cache_docs", json!({"action": "list"})).await;
    assert_eq!(r["metadata"]["entries"], json!([]));
}

#[tokio::test]
async fn webfetch_refuses_internal_addresses_unless_allowed() {
    let server = FakeServer::start(site()).await;
    let port = server.addr.port();
    // No allowHosts: every internal address is refused, literal or resolved.
    let (mut c, _h, _ws) = start(json!({"web": {"timeoutMs": 2000}})).await;
    for (url, needles) in [
        (
            format!("http://127.0.0.1:{port}/article"),
            vec!["127.0.0.1", "loopback", "web.allowHosts"],
        ),
        (
            format!("http://localhost:{port}/article"),
            vec!["localhost resolves to", "loopback"],
        ),
        (
            format!("http://[::ffff:127.0.0.1]:{port}/article"),
            vec!["loopback"],
        ),
        (
            "http://169.254.169.254/latest/meta-data/".to_string(),
            vec!["cloud metadata"],
        ),
        ("http://10.0.0.1/".to_string(), vec!["private"]),
        ("http://[fd00:ec2::254]/".to_string(), vec!["private"]),
        ("http://0.0.0.0/".to_string(), vec!["unspecified"]),
    ] {
        let err = call_err(&mut c, "webfetch", json!({"url": url})).await;
        assert_eq!(err.code, TOOL_FAILED, "{url}: {err:?}");
        for needle in needles {
            assert!(
                err.message.contains(needle),
                "{url}: `{needle}` not in {}",
                err.message
            );
        }
    }
    assert_eq!(
        server.requests().len(),
        0,
        "a refused fetch never reaches the server"
    );

    // Allowed: 127.0.0.1 only. A redirect to another internal address is refused at the hop.
    let redirector = FakeServer::start(move |r| match r.path() {
        "/to-metadata" => Response::redirect("http://169.254.169.254/latest/meta-data/"),
        "/to-other-loopback" => Response::redirect(&format!("http://127.0.0.2:{port}/article")),
        "/to-localhost" => Response::redirect(&format!("http://localhost:{port}/article")),
        _ => Response::new(404, "text/plain", ""),
    })
    .await;
    let (mut c, _h, _ws) = start(web(json!({}))).await;
    for (path, needle) in [
        ("/to-metadata", "cloud metadata"),
        ("/to-other-loopback", "127.0.0.2"),
    ] {
        let err = call_err(&mut c, "webfetch", json!({"url": redirector.url(path)})).await;
        assert_err(&err, TOOL_FAILED, &["refused", needle]);
    }
    assert_eq!(server.requests().len(), 0);
    // localhost resolves to 127.0.0.1 (allowed) and ::1 (not): only the allowed one is used.
    let r = call(
        &mut c,
        "webfetch",
        json!({"url": redirector.url("/to-localhost")}),
    )
    .await;
    assert!(r["output"].as_str().unwrap().contains("Concurrency"));
    assert_eq!(server.hits("/article"), 1);
}

#[tokio::test]
async fn cache_docs_lists_gets_clears_and_expires() {
    let server = FakeServer::start(site()).await;
    let (mut c, _h, ws) = start(web(json!({"cacheTtlSecs": 2}))).await;
    let docs = ws.root().join(".opencode/docs");

    let empty = call(&mut c, "cache_docs", json!({"action": "list"})).await;
    assert!(empty["output"].as_str().unwrap().contains("empty"));
    let article = server.url("/article");
    let api = server.url("/api");
    call(&mut c, "webfetch", json!({"url": article})).await;
    call(&mut c, "webfetch", json!({"url": api})).await;

    let list = call(&mut c, "cache_docs", json!({"action": "list"})).await;
    let entries = list["metadata"]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    let urls: Vec<&str> = entries.iter().map(|e| e["url"].as_str().unwrap()).collect();
    assert!(urls.contains(&article.as_str()) && urls.contains(&api.as_str()));
    assert!(
        list["output"]
            .as_str()
            .unwrap()
            .contains("Spawning | Tokio")
    );
    let api_entry = entries.iter().find(|e| e["url"] == api.as_str()).unwrap();
    assert_eq!(api_entry["contentType"], "json");
    assert!(api_entry["file"].as_str().unwrap().ends_with(".json"));

    let got = call(
        &mut c,
        "cache_docs",
        json!({"action": "get", "url": article}),
    )
    .await;
    assert!(got["output"].as_str().unwrap().contains("## Concurrency"));
    let stats = call(&mut c, "cache_docs", json!({"action": "stats"})).await;
    assert_eq!(stats["metadata"]["entries"], 2);
    assert_eq!(stats["metadata"]["ttlSecs"], 2);
    assert_eq!(std::fs::read_dir(&docs).unwrap().count(), 2);

    let cleared = call(&mut c, "cache_docs", json!({"action": "clear", "url": api})).await;
    assert_eq!(cleared["metadata"]["removed"], 1);
    assert_eq!(std::fs::read_dir(&docs).unwrap().count(), 1);
    let err = call_err(&mut c, "cache_docs", json!({"action": "get", "url": api})).await;
    assert_err(&err, INVALID_PARAMS, &["not in the docs cache", "webfetch"]);

    // Past the TTL the entry is gone, file and all, and webfetch goes to the network again.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let list = call(&mut c, "cache_docs", json!({"action": "list"})).await;
    assert_eq!(list["metadata"]["entries"], json!([]));
    assert_eq!(std::fs::read_dir(&docs).unwrap().count(), 0);
    let r = call(&mut c, "webfetch", json!({"url": article})).await;
    assert_eq!(r["metadata"]["cached"], false);
    assert_eq!(server.hits("/article"), 2);

    let all = call(&mut c, "cache_docs", json!({"action": "clear"})).await;
    assert_eq!(all["metadata"]["removed"], 1);
    assert_eq!(std::fs::read_dir(&docs).unwrap().count(), 0);

    for (args, needles) in [
        (json!({"action": "get"}), vec!["needs the page's `url`"]),
        (
            json!({"action": "clear", "url": "https://nowhere.example/"}),
            vec!["not in the docs cache"],
        ),
        (json!({"action": "purge"}), vec!["action"]),
        (json!({}), vec!["action"]),
    ] {
        let err = call_err(&mut c, "cache_docs", args.clone()).await;
        assert_err(&err, INVALID_PARAMS, &needles);
    }
}

fn searx_ok(r: &fake_http::Request) -> Response {
    assert_eq!(r.param("format").as_deref(), Some("json"));
    let q = r.param("q").unwrap();
    Response::json(json!({"results": [
        {"title": format!("First {q}"), "url": "https://tokio.rs/", "content": "Tokio  is\n a runtime", "engine": "x"},
        {"title": "Second", "url": "https://docs.rs/tokio", "content": "API docs"},
        {"title": "dup", "url": "https://tokio.rs/", "content": ""},
        {"title": "Third", "url": "https://crates.io/crates/tokio", "content": ""}
    ]}))
}

#[tokio::test]
async fn websearch_takes_the_first_provider_that_answers() {
    let searx_down = FakeServer::start(|_| Response::new(502, "text/html", "bad gateway")).await;
    let searx = FakeServer::start(searx_ok).await;
    let (mut c, _h, _ws) = start(web(json!({"search": {
        "searxngUrls": [searx_down.url(""), searx.url("/")],
        "duckduckgoUrl": searx_down.url("/ddg"),
    }})))
    .await;
    let r = call(
        &mut c,
        "websearch",
        json!({"query": "tokio runtime", "maxResults": 2, "language": "en"}),
    )
    .await;
    let out = r["output"].as_str().unwrap();
    assert!(
        out.contains("1. First tokio runtime\n   https://tokio.rs/\n   Tokio is a runtime"),
        "{out}"
    );
    assert!(out.contains("2. Second"), "{out}");
    assert!(!out.contains("3."), "{out}");
    assert_eq!(r["metadata"]["provider"], "searxng");
    let results = r["metadata"]["results"].as_array().unwrap();
    assert_eq!(
        results[0],
        json!({"title": "First tokio runtime", "url": "https://tokio.rs/", "snippet": "Tokio is a runtime", "provider": "searxng"})
    );
    let attempts = r["metadata"]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert_eq!(attempts[0]["outcome"], "failed");
    assert!(attempts[0]["error"].as_str().unwrap().contains("HTTP 502"));
    assert_eq!(attempts[1]["outcome"], "ok");
    assert_eq!(searx.requests()[0].param("language").as_deref(), Some("en"));
    assert_eq!(searx.requests()[0].path(), "/search");
}

const DDG_PAGE: &str = r#"<html><body>
<div class="result results_links web-result"><div class="links_main">
<h2 class="result__title"><a class="result__a" href="//duckduckgo.com/l/?uddg=https%3A%2F%2Fdoc.rust-lang.org%2Fbook%2F&amp;rut=x">The Rust <b>Book</b></a></h2>
<a class="result__snippet" href="x">Learn Rust from the book.</a></div></div>
</body></html>"#;

#[tokio::test]
async fn websearch_falls_through_searxng_and_brave_to_duckduckgo() {
    let searx_empty = FakeServer::start(|_| Response::json(json!({"results": []}))).await;
    let brave = FakeServer::start(|_| {
        Response::new(429, "application/json", r#"{"error":"rate limited"}"#)
    })
    .await;
    let ddg = FakeServer::start(|r| {
        assert_eq!(r.method, "POST");
        Response::html(DDG_PAGE)
    })
    .await;
    // The Brave key comes from an environment variable; HOME is always set, so it serves as
    // a key here without touching the test process's environment.
    let (mut c, _h, _ws) = start(web(json!({"search": {
        "searxngUrls": [searx_empty.url("")],
        "braveUrl": brave.url("/res/v1/web/search"),
        "braveApiKeyEnv": "HOME",
        "duckduckgoUrl": ddg.url("/html/"),
    }})))
    .await;
    let r = call(&mut c, "websearch", json!({"query": "rust book"})).await;
    assert_eq!(r["metadata"]["provider"], "duckduckgo");
    assert_eq!(
        r["metadata"]["results"][0],
        json!({"title": "The Rust Book", "url": "https://doc.rust-lang.org/book/", "snippet": "Learn Rust from the book.", "provider": "duckduckgo"})
    );
    let outcomes: Vec<&str> = r["metadata"]["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["empty", "failed", "ok"]);
    let brave_req = &brave.requests()[0];
    assert_eq!(
        brave_req.headers["x-subscription-token"],
        std::env::var("HOME").unwrap()
    );
    assert_eq!(brave_req.param("q").as_deref(), Some("rust book"));
    assert_eq!(
        ddg.requests()[0].form(),
        vec![("q".to_string(), "rust book".to_string())]
    );
}

#[tokio::test]
async fn websearch_reports_every_failure_when_no_provider_answers() {
    let down = FakeServer::start(|_| Response::new(500, "text/plain", "boom")).await;
    let garbage = FakeServer::start(|_| Response::new(200, "application/json", "{not json")).await;
    let (mut c, _h, _ws) = start(web(json!({"search": {
        "searxngUrls": [garbage.url("")],
        "braveApiKeyEnv": "OPENCODE_ORCHESTRATOR_TEST_SURELY_UNSET",
        "duckduckgoUrl": down.url("/html/"),
    }})))
    .await;
    let err = call_err(&mut c, "websearch", json!({"query": "anything"})).await;
    assert_err(
        &err,
        TOOL_FAILED,
        &[
            "no search provider answered",
            "searxng",
            "could not be read",
            "brave: skipped",
            "$OPENCODE_ORCHESTRATOR_TEST_SURELY_UNSET",
            "duckduckgo: failed",
            "HTTP 500",
        ],
    );
    // Providers that answer with nothing: not an error, an empty result.
    let empty = FakeServer::start(|_| Response::json(json!({"results": []}))).await;
    let (mut c, _h, _ws) = start(web(json!({"search": {
        "providers": ["searxng"],
        "searxngUrls": [empty.url("")],
    }})))
    .await;
    let r = call(&mut c, "websearch", json!({"query": "nothing"})).await;
    assert!(r["output"].as_str().unwrap().starts_with("No results"));
    assert_eq!(r["metadata"]["results"], json!([]));
    for (args, needle) in [
        (json!({}), "query"),
        (json!({"query": ""}), "query"),
        (json!({"query": "   "}), "blank"),
        (json!({"query": "x", "maxResults": 0}), "maxResults"),
        (json!({"query": "x", "maxResults": 21}), "maxResults"),
    ] {
        let err = call_err(&mut c, "websearch", args.clone()).await;
        assert_err(&err, INVALID_PARAMS, &[needle]);
    }
}

fn grep_app(r: &fake_http::Request) -> Response {
    assert_eq!(r.path(), "/api/search");
    let snippet = r#"<table class="highlight-table"><tr data-line="41"><td><div class="lineno">41</div></td><td><div class="highlight"><pre>let handle = tokio::<mark>spawn</mark>(async move {</pre></div></td></tr><tr data-line="42"><td><div class="lineno">42</div></td><td><div class="highlight"><pre>    work().await</pre></div></td></tr></table>"#;
    Response::json(json!({
        "time": 12,
        "hits": {"total": 1234, "hits": [
            {"repo": {"raw": "tokio-rs/mini-redis"}, "branch": {"raw": "master"}, "path": {"raw": "src/server.rs"},
             "total_matches": {"raw": "3"}, "content": {"snippet": snippet}},
            {"repo": {"raw": "tokio-rs/axum"}, "path": {"raw": "examples/x.rs"}, "content": {"snippet": "plain text"}}
        ]}
    }))
}

#[tokio::test]
async fn codesearch_sends_the_filters_and_reads_the_snippets() {
    let server = FakeServer::start(grep_app).await;
    let (mut c, _h, _ws) = start(web(json!({"codesearch": {"baseUrl": server.url("")}}))).await;
    let r = call(
        &mut c,
        "codesearch",
        json!({"query": "tokio::spawn(", "language": ["Rust", "TOML"], "repo": "tokio-rs/", "path": "src/", "caseSensitive": true, "page": 2}),
    )
    .await;
    let out = r["output"].as_str().unwrap();
    assert!(
        out.starts_with("1234 files match \"tokio::spawn(\"; page 2 shows 2."),
        "{out}"
    );
    assert!(out.contains("tokio-rs/mini-redis: src/server.rs (3 matches)\nhttps://github.com/tokio-rs/mini-redis/blob/master/src/server.rs\n  41: let handle = tokio::spawn(async move {\n  42:     work().await"), "{out}");
    assert!(
        out.contains("https://github.com/tokio-rs/axum/blob/HEAD/examples/x.rs"),
        "{out}"
    );
    assert_eq!(
        r["metadata"]["hits"][0]["lines"][0],
        json!({"line": 41, "text": "let handle = tokio::spawn(async move {"})
    );
    let q = server.requests()[0].query();
    let has = |k: &str, v: &str| q.iter().any(|(a, b)| a == k && b == v);
    assert!(has("q", "tokio::spawn("), "{q:?}");
    assert!(has("f.lang", "Rust") && has("f.lang", "TOML"), "{q:?}");
    assert!(
        has("f.repo.pattern", "tokio-rs/") && has("f.path.pattern", "src/"),
        "{q:?}"
    );
    assert!(has("case", "true") && has("page", "2"), "{q:?}");
    assert!(!q.iter().any(|(k, _)| k == "regexp"), "{q:?}");

    // Bad input and bad answers.
    let err = call_err(
        &mut c,
        "codesearch",
        json!({"query": "fn (", "regex": true}),
    )
    .await;
    assert_err(&err, INVALID_PARAMS, &["query", "unclosed group"]);
    let err = call_err(&mut c, "codesearch", json!({"query": "x", "page": 0})).await;
    assert_err(&err, INVALID_PARAMS, &["page"]);
    let err = call_err(
        &mut c,
        "codesearch",
        json!({"query": "x", "language": [""]}),
    )
    .await;
    assert_err(&err, INVALID_PARAMS, &["language"]);
    assert_eq!(server.requests().len(), 1);

    let limited = FakeServer::start(|_| Response::new(429, "text/plain", "slow down")).await;
    let broken = FakeServer::start(|_| Response::json(json!({"unexpected": true}))).await;
    for (server, needles) in [
        (&limited, vec!["HTTP 429", "slow down"]),
        (&broken, vec!["code search answer", "could not be read"]),
    ] {
        let (mut c, _h, _ws) = start(web(json!({"codesearch": {"baseUrl": server.url("")}}))).await;
        let err = call_err(&mut c, "codesearch", json!({"query": "x"})).await;
        assert_err(&err, TOOL_FAILED, &needles);
    }
}

#[tokio::test]
async fn bad_web_config_is_refused_with_its_key() {
    for (config, key) in [
        (
            json!({"web": {"allowHosts": ["not a host/"]}}),
            "web.allowHosts[0]",
        ),
        (json!({"web": {"maxRedirects": 50}}), "web.maxRedirects"),
        (
            json!({"web": {"search": {"searxngUrls": ["ftp://x"]}}}),
            "web.search.searxngUrls[0]",
        ),
        (
            json!({"web": {"search": {"providers": ["bing"]}}}),
            "providers",
        ),
        (
            json!({"web": {"codesearch": {"baseUrl": "nope"}}}),
            "web.codesearch.baseUrl",
        ),
    ] {
        let ws = Workspace::new();
        let (source, _h) = scripted();
        let mut c = connect(source);
        let err = c
            .err(
                "initialize",
                json!({"processId": null, "rootUri": null, "capabilities": {},
                       "initializationOptions": {"workspaceRoot": ws.root(), "config": config}}),
            )
            .await;
        assert!(err.message.contains(key), "{key}: {}", err.message);
    }
}

#[tokio::test]
async fn webfetch_shows_a_page_nested_too_deep_as_text_and_keeps_serving() {
    // 5,000 levels overflowed the converter's stack and aborted the server; 200,000 (2.2 MB,
    // under the size cap) would have kept the tree builder busy for hours.
    let nested = |depth: usize| {
        format!(
            "<html><head><title>Deep</title></head><body>{}the middle{}</body></html>",
            "<div>".repeat(depth),
            "</div>".repeat(depth)
        )
    };
    let (shallow, deep, deeper) = (nested(200), nested(5_000), nested(200_000));
    let server = FakeServer::start(move |req: &fake_http::Request| match req.target.as_str() {
        "/shallow" => Response::html(&shallow),
        "/deep" => Response::html(&deep),
        _ => Response::html(&deeper),
    })
    .await;
    let (mut c, _h, _ws) = start(web(json!({}))).await;

    for (path, depth) in [("/deep", 5_000), ("/deeper", 200_000)] {
        for (format, extract) in [("markdown", "main"), ("markdown", "full"), ("text", "full")] {
            let r = call(
                &mut c,
                "webfetch",
                json!({"url": server.url(path), "format": format, "extract": extract, "refresh": true}),
            )
            .await;
            let out = r["output"].as_str().unwrap();
            assert!(
                out.starts_with(&format!(
                    "[webfetch: this page nests its elements {depth} levels deep (more than 256)"
                )),
                "{path} {format}: {}",
                &out[..out.len().min(300)]
            );
            assert!(out.contains("the middle"), "{path} {format}");
            assert_eq!(r["metadata"]["title"], "Deep");
        }
        let r = call(
            &mut c,
            "webfetch",
            json!({"url": server.url(path), "format": "html", "maxLength": 100, "refresh": true}),
        )
        .await;
        assert!(
            r["output"]
                .as_str()
                .unwrap()
                .starts_with("<html><head><title>Deep")
        );
    }
    // Nesting real pages have is converted as usual.
    let r = call(
        &mut c,
        "webfetch",
        json!({"url": server.url("/shallow"), "extract": "full"}),
    )
    .await;
    assert_eq!(r["output"].as_str().unwrap().trim(), "the middle");
    let stats = c.ok("orchestrator/stats", json!({})).await;
    assert!(
        stats["uptimeMs"].as_u64().is_some(),
        "the server still answers"
    );
}
