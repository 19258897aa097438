//! `lambda-emulator <binary> <event.json>`: starts a Lambda function's binary under the Runtime
//! API emulator (see the library), invokes it once with the event, prints the response JSON on
//! stdout and the function's output and timings on stderr. The binary gets this command's
//! environment (AWS endpoint, credentials, `SESAME_*`) on top of Lambda's variables.
//! `make invoke` runs it.

use std::process::ExitCode;

use lambda_emulator::Function;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [binary, event_path] = args.as_slice() else {
        eprintln!("usage: lambda-emulator <binary> <event.json>");
        return ExitCode::from(2);
    };
    let event = match std::fs::read_to_string(event_path)
        .map_err(|e| e.to_string())
        .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()))
    {
        Ok(event) => event,
        Err(error) => {
            eprintln!("cannot read the event {event_path}: {error}");
            return ExitCode::from(2);
        }
    };
    let mut function = match Function::start(binary, std::env::vars()).await {
        Ok(function) => function,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
    let result = function.invoke(event).await;
    let peak_rss = function.peak_rss();
    match result {
        Ok(invocation) => {
            eprint!("{}", function.output());
            println!(
                "{}",
                serde_json::to_string_pretty(&invocation.response).expect("a JSON value prints")
            );
            let millis = |d: Option<std::time::Duration>| {
                d.map_or("?".into(), |d| format!("{:.1} ms", d.as_secs_f64() * 1e3))
            };
            eprintln!(
                "{}: init {}, cold start {}, invocation {}, peak RSS {}",
                function.name(),
                millis(function.init_duration()),
                millis(function.cold_start()),
                millis(Some(invocation.elapsed)),
                peak_rss.map_or("?".into(), |bytes| format!("{:.1} MB", bytes as f64 / 1e6)),
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}
