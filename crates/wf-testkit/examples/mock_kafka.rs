//! Runs librdkafka's mock cluster until standard input closes, for trying the
//! tools by hand: `cargo run -p wf-testkit --example mock_kafka -- 6` prints the
//! bootstrap address, with both wf topics created with 6 partitions.

use std::io::Read;

fn main() {
    let partitions = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(6);
    let k = wf_testkit::MockKafka::start(&["workflow.transactions", "workflow.steps"], partitions);
    println!("{}", k.bootstrap());
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
}
