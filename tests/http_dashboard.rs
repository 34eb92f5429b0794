//! The dashboard in a real browser: `anquan serve` runs as a process over a seeded store,
//! headless Chromium opens `/` through chromedriver (WebDriver, driven by fantoccini), the token
//! is typed in, and what the page shows is compared with what the API answers with the same
//! token. A hazard posted through the API changes the page's open-hazard count within 2 s
//! without a reload; the Chinese labels appear after the switch; a click on a community shows
//! that community's figures. Screenshots are kept in `target/test-artifacts/`.
//!
//! Without `/usr/bin/chromium` or `/usr/bin/chromedriver` the test prints why and passes, unless
//! `ANQUAN_REQUIRE_BROWSER` is set (`.ci/run` sets it and installs both): then it fails.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The whole test, browser start to last screenshot, ends within this.
const WHOLE_TEST: Duration = Duration::from_secs(240);
/// What the issue asks of the live update: the page shows a new hazard within this.
const LIVE_WITHIN: Duration = Duration::from_secs(2);

/// A child process in its own process group, killed with the whole group when dropped
/// (chromedriver starts Chromium, which starts its own helpers).
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let group = self.0.id() as libc::pid_t;
        // SAFETY: a signal to the process group this test started (the child leads it).
        unsafe {
            libc::kill(-group, libc::SIGKILL);
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(command: &mut Command) -> Killed {
    use std::os::unix::process::CommandExt;
    Killed(command.process_group(0).spawn().unwrap_or_else(|e| panic!("cannot start {command:?}: {e}")))
}

fn anquan(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_anquan"))
        .args(args)
        .env_remove("ANQUAN_STORE")
        .env_remove("ANQUAN_SERVER")
        .env_remove("ANQUAN_TOKEN")
        .output()
        .unwrap();
    assert!(out.status.success(), "anquan {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The browser's two programs, or why the test cannot run.
fn browser() -> Result<(), String> {
    for p in [CHROMIUM, CHROMEDRIVER] {
        if !Path::new(p).exists() {
            return Err(format!("{p} is missing (Debian: apt-get install chromium chromium-driver fonts-noto-cjk)"));
        }
    }
    Ok(())
}

/// `anquan serve` on a free loopback port over `store`; its address is the first line it
/// writes, and the rest of its log is read away so it never blocks on a full pipe.
fn serve(store: &str) -> (Killed, String) {
    let mut child = spawn(
        Command::new(env!("CARGO_BIN_EXE_anquan"))
            .args(["serve", "--store", store, "--listen", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped()),
    );
    let mut lines = BufReader::new(child.0.stderr.take().unwrap()).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    std::thread::spawn(move || for _ in lines {});
    let url = first.split_whitespace().find(|w| w.starts_with("http://")).unwrap_or_else(|| panic!("{first}"));
    (child, url.trim_end_matches('/').to_string())
}

fn chromedriver() -> (Killed, String) {
    let port = free_port();
    let child =
        spawn(Command::new(CHROMEDRIVER).arg(format!("--port={port}")).stdout(Stdio::null()).stderr(Stdio::null()));
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not listen on {port} within 20 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    (child, format!("http://127.0.0.1:{port}"))
}

/// The API, asked beside the browser with the page's token.
#[derive(Clone)]
struct Api {
    base: String,
    token: String,
}

impl Api {
    fn send(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let auth = format!("Bearer {}", self.token);
        let response = match body {
            None => ureq::get(&url)
                .header("Authorization", &auth)
                .config()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(10)))
                .build()
                .call(),
            Some(b) => ureq::post(&url)
                .header("Authorization", &auth)
                .header("Content-Type", "application/json")
                .config()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(10)))
                .build()
                .send(b.to_string()),
        };
        let mut response = response.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap();
        (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url} answered {status} {text:?}: {e}")))
    }

    async fn get(&self, path: &str) -> Value {
        let (api, owned) = (self.clone(), path.to_string());
        let (status, body) = tokio::task::spawn_blocking(move || api.send("GET", &owned, None)).await.unwrap();
        assert_eq!(status, 200, "{path}: {body}");
        body["result"].clone()
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let (api, path) = (self.clone(), path.to_string());
        tokio::task::spawn_blocking(move || api.send("POST", &path, Some(&body))).await.unwrap()
    }
}

/// The figures a bureau head reads on the page, as the page shows them.
#[derive(Debug, PartialEq)]
struct Shown {
    incidents: String,
    deaths: String,
    open_hazards: String,
    overdue_hazards: String,
    four_incomplete: String,
    indicator: String,
    /// (category, this year, last year) of the category chart, sorted.
    categories: Vec<(String, u64, u64)>,
}

async fn shown(c: &Client) -> Shown {
    let v = c
        .execute(
            r##"const tile = (n) => document.querySelector(`[data-figure="${n}"] .value`).textContent;
               const rows = [...document.querySelectorAll("#panel-categories g.row")].map((g) =>
                   [g.dataset.key, Number(g.dataset.current), Number(g.dataset.baseline)]);
               return { incidents: tile("incidents"), deaths: tile("deaths"), open_hazards: tile("open_hazards"),
                        overdue_hazards: tile("overdue_hazards"), four_incomplete: tile("four_incomplete"),
                        indicator: tile("indicator"), categories: rows };"##,
            vec![],
        )
        .await
        .unwrap();
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    let mut categories: Vec<(String, u64, u64)> = v["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r[0].as_str().unwrap().to_string(), r[1].as_u64().unwrap(), r[2].as_u64().unwrap()))
        .collect();
    categories.sort();
    Shown {
        incidents: s("incidents"),
        deaths: s("deaths"),
        open_hazards: s("open_hazards"),
        overdue_hazards: s("overdue_hazards"),
        four_incomplete: s("four_incomplete"),
        indicator: s("indicator"),
        categories,
    }
}

/// What the page must show for a scope, from the API's answers (numbers below 1,000 are
/// written without separators in both languages).
async fn expected(api: &Api, community: Option<&str>) -> Shown {
    let scope = community.map(|c| format!("community={c}")).unwrap_or_default();
    let with = |path: &str| {
        if scope.is_empty() {
            path.to_string()
        } else if path.contains('?') {
            format!("{path}&{scope}")
        } else {
            format!("{path}?{scope}")
        }
    };
    let stats = api.get(&with("/v1/stats?by=category")).await;
    let kpis = api.get(&with("/v1/kpis")).await;
    let hazards = api.get(&with("/v1/hazards")).await;
    let incidents = api.get(&with("/v1/incidents")).await;
    let total = &stats["comparison"]["total"];
    let four = incidents["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| !i["four_missing"].as_array().unwrap().is_empty())
        .count();
    let indicator = match kpis["indicator_total"]["consumption_pct"].as_f64() {
        Some(p) => format!("{:.1}%", (p * 10.0).round() / 10.0),
        None => "–".to_string(),
    };
    let mut categories: Vec<(String, u64, u64)> = stats["comparison"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let key = l["key"].as_str().unwrap().to_string();
            (key, l["current"]["incidents"].as_u64().unwrap(), l["baseline"]["incidents"].as_u64().unwrap())
        })
        .filter(|(_, c, b)| c + b > 0)
        .collect();
    categories.sort();
    Shown {
        incidents: total["current"]["incidents"].to_string(),
        deaths: total["current"]["deaths"].to_string(),
        open_hazards: hazards["open"]["total"].to_string(),
        overdue_hazards: hazards["overdue"].as_array().unwrap().len().to_string(),
        four_incomplete: four.to_string(),
        indicator,
        categories,
    }
}

/// Waits until the page shows `want` (it reads the API after each event, so it may lag).
async fn until_shown(c: &Client, want: &Shown, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let now = shown(c).await;
        if &now == want {
            return;
        }
        assert!(Instant::now() < deadline, "the page shows {now:#?}\nthe API says {want:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_for(c: &Client, css: &str, within: Duration) -> fantoccini::elements::Element {
    c.wait()
        .at_most(within)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css} within {within:?}: {e}"))
}

async fn body_text(c: &Client) -> String {
    c.execute("return document.body.innerText", vec![]).await.unwrap().as_str().unwrap_or_default().to_string()
}

/// The whole page in one PNG: the window is made as tall as the page first.
async fn screenshot(c: &Client, name: &str) -> PathBuf {
    let height = c.execute("return document.documentElement.scrollHeight", vec![]).await.unwrap();
    let height = height.as_u64().unwrap_or(1800).clamp(600, 4000) as u32;
    c.set_window_size(1400, height + 140).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a screenshot is a PNG");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, png).unwrap();
    println!("screenshot: {}", path.display());
    path
}

#[test]
fn the_dashboard_shows_the_apis_figures_follows_the_log_and_drills_down() {
    if let Err(why) = browser() {
        if std::env::var_os("ANQUAN_REQUIRE_BROWSER").is_some() {
            panic!("ANQUAN_REQUIRE_BROWSER is set and {why}");
        }
        println!("skipped: the real-browser test needs Chromium and chromedriver: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s");
    let store = store.to_str().unwrap();
    anquan(&["demo", "--store", store, "--scale", "0.05", "--lang", "en"]);
    // bureau-04 is a supervisor of the whole district in the demo: it may read and report.
    let token = anquan(&["token", "--for", "bureau-04", "--store", store]).trim().to_string();
    let (_server, base) = serve(store);
    let (_driver, webdriver) = chromedriver();
    let api = Api { base: base.clone(), token: token.clone() };

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async move {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1400,1800", "--lang=en-US", "--hide-scrollbars"],
            }),
        );
        let started = Instant::now();
        let mut builder = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
        let connect = builder.capabilities(caps).connect(&webdriver);
        let client = tokio::time::timeout(WHOLE_TEST, connect)
            .await
            .expect("Chromium starts in time")
            .expect("a Chromium session through chromedriver");
        let run =
            tokio::time::timeout(WHOLE_TEST - started.elapsed(), walk_through(&client, &api, &base, &token)).await;
        let _ = tokio::time::timeout(Duration::from_secs(20), client.close()).await;
        run.expect("the browser test ends within its time");
    });
}

async fn walk_through(c: &Client, api: &Api, base: &str, token: &str) {
    let long = Duration::from_secs(20);
    c.goto(&format!("{base}/")).await.unwrap();

    // The page asks for the token; a token the service refuses is asked for again.
    let input = wait_for(c, "#token-dialog[open] #token-input", long).await;
    input.send_keys("aq_not_a_token").await.unwrap();
    c.find(Locator::Css("#token-submit")).await.unwrap().click().await.unwrap();
    let input = wait_for(c, "#token-dialog[open] #token-refused:not([hidden]) ~ #token-input", long).await;
    input.send_keys(token).await.unwrap();
    c.find(Locator::Css("#token-submit")).await.unwrap().click().await.unwrap();
    c.find(Locator::Css("#lang-en")).await.unwrap().click().await.unwrap();
    wait_for(c, "body[data-live='on']", long).await;

    // The figures shown are the API's.
    let district = expected(api, None).await;
    assert!(!district.categories.is_empty(), "the seeded store has incidents to compare");
    until_shown(c, &district, long).await;
    let text = body_text(c).await;
    for label in ["Incidents by category", "incidents (count)", "Control indicator", "time elapsed", "Latest events"] {
        assert!(text.contains(label), "{label:?} is on the English page");
    }
    screenshot(c, "dashboard-en.png").await;

    // A community with incidents, to post the hazard in and to drill down to.
    let incidents = api.get("/v1/incidents").await;
    let community =
        incidents["incidents"][0]["community_id"].as_str().expect("the seeded store has incidents").to_string();

    // A hazard posted through the API shows on the page within 2 s, without a reload.
    c.execute("window.notReloaded = true", vec![]).await.unwrap();
    let now = chrono::Utc::now();
    let found = (now - chrono::Duration::minutes(5)).to_rfc3339();
    let command = json!({
        "command_id": uuid::Uuid::new_v4().to_string(),
        "actor": "bureau-04",
        "issued_at": now.to_rfc3339(),
        "command": {"type": "hazard.report", "hazard_id": "hz-browser-1", "source": "grid_inspection",
                    "reporter": "李网格", "community_id": community, "grid_id": null, "enterprise_id": null,
                    "category": "fire", "location": "3号楼", "description": "楼道堆放杂物", "found_at": found},
    });
    let before: u64 = district.open_hazards.parse().unwrap();
    let (status, answer) = api.post("/v1/commands", command).await;
    assert_eq!(status, 201, "{answer}");
    let posted = Instant::now();
    let want = (before + 1).to_string();
    loop {
        let open = shown(c).await.open_hazards;
        if open == want {
            break;
        }
        assert!(posted.elapsed() < LIVE_WITHIN, "the page still shows {open} open hazards, not {want}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("the new hazard showed {:?} after the API's answer", posted.elapsed());
    assert_eq!(c.execute("return window.notReloaded === true", vec![]).await.unwrap(), json!(true), "no reload");
    assert_eq!(expected(api, None).await.open_hazards, want, "the API counts it too");

    // Chinese labels after the switch.
    c.find(Locator::Css("#lang-zh")).await.unwrap().click().await.unwrap();
    let lang = c.execute("return document.documentElement.lang", vec![]).await.unwrap();
    assert_eq!(lang, json!("zh-CN"));
    let text = body_text(c).await;
    for label in [
        "辖区安全生产态势",
        "未整改隐患",
        "“四不放过”未落实",
        "分类别事故起数",
        "时序进度",
        "最新事件",
        "事故起数（起）",
    ] {
        assert!(text.contains(label), "{label:?} is on the Chinese page");
    }
    assert!(!text.contains("Open hazards"), "no English tile label is left after the switch");
    screenshot(c, "dashboard-zh.png").await;

    // A click on a community shows that community's figures.
    // Its first link: its bar in the control-indicator chart, or a table row naming it (the
    // hazard just posted is one of the latest events).
    let link = wait_for(c, &format!("[data-community='{community}']"), long).await;
    link.click().await.unwrap();
    wait_for(c, "#scope-district:enabled", long).await;
    let scope = c.find(Locator::Css("#scope-community")).await.unwrap().text().await.unwrap();
    assert!(scope.contains(&community), "the page names the community: {scope:?}");
    let figures = expected(api, Some(&community)).await;
    assert_ne!(figures, district, "one community's figures differ from the district's");
    until_shown(c, &figures, long).await;
    // Its incidents, listed by id as the API lists them.
    let listed = api.get(&format!("/v1/incidents?community={community}")).await;
    let ids: Vec<Value> = listed["incidents"].as_array().unwrap().iter().map(|i| i["incident_id"].clone()).collect();
    assert!(!ids.is_empty());
    let shown_ids = c
        .execute("return [...document.querySelectorAll('#incidents-table tbody tr td:first-child')].map((td) => td.textContent)", vec![])
        .await
        .unwrap();
    assert_eq!(shown_ids.as_array().unwrap(), &ids[..ids.len().min(12)], "the community's incidents, newest first");
    screenshot(c, "dashboard-zh-community.png").await;

    // Back to the whole district.
    c.find(Locator::Css("#scope-district")).await.unwrap().click().await.unwrap();
    let district = expected(api, None).await;
    until_shown(c, &district, long).await;

    // Once per browser session: a reload asks for no token and shows the same figures.
    c.refresh().await.unwrap();
    wait_for(c, "body[data-live='on']", long).await;
    let open = c.execute("return document.getElementById('token-dialog').open", vec![]).await.unwrap();
    assert_eq!(open, json!(false), "the token is kept for the session");
    until_shown(c, &district, long).await;
}
