//! A real headless Chromium, driven through Debian's `chromedriver` with
//! fantoccini, and the few page gestures the tests repeat.
//!
//! Each [`Browser`] has its own fresh profile directory (so its service
//! worker, IndexedDB and cookies are its own) and is started with the
//! flags a machine without internet needs. Waits poll the page at most
//! [`WAIT_POLLS`] times and fail with what they waited for; nothing is
//! asserted about how long anything took.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

/// Polls of a wait before it fails.
pub const WAIT_POLLS: u32 = 300;
/// Pause between polls.
const POLL_EVERY: Duration = Duration::from_millis(100);

/// The Chromium flags the issue names, for a machine without internet.
const CHROMIUM_FLAGS: [&str; 9] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
];

fn which(program: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/local/bin", "/usr/lib/chromium"] {
        let path = Path::new(dir).join(program);
        if path.exists() {
            return path;
        }
    }
    panic!(
        "{program} is not installed: `apt-get install -y chromium chromium-driver` (.ci/run does it)"
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A running chromedriver, stopped when dropped.
pub struct Driver {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
}

impl Driver {
    /// Starts chromedriver on a free loopback port and waits until it answers.
    pub async fn start() -> Driver {
        let port = free_port();
        let child = Command::new(which("chromedriver"))
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starts chromedriver");
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        for _ in 0..WAIT_POLLS {
            let ready = client
                .get(format!("{}/status", driver.url))
                .send()
                .await
                .is_ok();
            if ready {
                return driver;
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
        panic!("chromedriver did not answer on {}", driver.url);
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser (one profile), signed in as one person at most.
pub struct Browser {
    /// The WebDriver session.
    pub client: Client,
    /// The server's address, `http://127.0.0.1:<port>`.
    pub base: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// A fresh Chromium with its own profile, a phone-to-desk window.
    pub async fn open(driver: &Driver, base: &str, width: u32, height: u32) -> Browser {
        let profile = tempfile::tempdir().expect("profile dir");
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| (*f).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        args.push(format!("--window-size={width},{height}"));
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": which("chromium"), "args": args},
        });
        let capabilities = capabilities.as_object().cloned().expect("an object");
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&driver.url)
            .await
            .expect("a Chromium session");
        Browser {
            client,
            base: base.to_owned(),
            _profile: profile,
        }
    }

    /// Goes to a path of the server.
    pub async fn go(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap_or_else(|e| panic!("goto {path}: {e}"));
    }

    /// The current path and query.
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("url");
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// Signs in through the form; answers the page landed on.
    pub async fn sign_in(&self, username: &str, password: &str) -> String {
        self.go("/app/sign-in").await;
        self.fill("#username", username).await;
        self.fill("#password", password).await;
        self.click("#sign-in button[type=submit]").await;
        self.wait_for_path(
            |p| !p.starts_with("/app/sign-in"),
            "leaving the sign-in page",
        )
        .await
    }

    /// The element a CSS selector names (waiting for it).
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        for _ in 0..WAIT_POLLS {
            if let Ok(element) = self.client.find(Locator::Css(css)).await {
                return element;
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
        panic!("no element {css} on {}", self.path().await);
    }

    /// Every element a selector names now.
    pub async fn all(&self, css: &str) -> Vec<fantoccini::elements::Element> {
        self.client
            .find_all(Locator::Css(css))
            .await
            .unwrap_or_default()
    }

    /// Types into a field (after clearing it).
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.expect("clear");
        field.send_keys(text).await.expect("type");
    }

    /// Clicks an element.
    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.expect("click");
    }

    /// An attribute of the element a selector names.
    pub async fn attr(&self, css: &str, name: &str) -> String {
        self.find(css)
            .await
            .attr(name)
            .await
            .expect("attribute")
            .unwrap_or_default()
    }

    /// Runs an asynchronous script (its last argument is the callback).
    pub async fn script_async(&self, body: &str) -> Value {
        self.client
            .execute_async(body, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{body}"))
    }

    /// Waits until the current path satisfies `ok`; answers it.
    pub async fn wait_for_path(&self, ok: impl Fn(&str) -> bool, what: &str) -> String {
        for _ in 0..WAIT_POLLS {
            let path = self.path().await;
            if ok(&path) {
                return path;
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
        panic!("waited for {what}; still on {}", self.path().await);
    }

    /// Waits until a script answers `true`.
    pub async fn wait_for_script(&self, body: &str, what: &str) {
        for _ in 0..WAIT_POLLS {
            if self.client.execute(body, Vec::new()).await.ok() == Some(Value::Bool(true)) {
                return;
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
        panic!("waited for {what} on {}", self.path().await);
    }

    /// Saves a PNG of the viewport under the screenshot directory.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("a screenshot");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("writes the screenshot");
        eprintln!("screenshot: {}", path.display());
    }

    /// Ends the session.
    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}

/// Where screenshots go: `$CASEBOOK_SCREENSHOTS`, else
/// `target/web-screenshots` of the workspace.
pub fn screenshot_dir() -> PathBuf {
    match std::env::var_os("CASEBOOK_SCREENSHOTS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("target")
            .join("web-screenshots"),
    }
}
