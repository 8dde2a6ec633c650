using TcpStore.Akka.Jepsen.Checker;
using TcpStore.Akka.Jepsen.History;

// tcpstore-jepsen check HISTORY.jsonl   re-checks a kept history file (exit 0 valid, 1 invalid, 3 undecided)
if (args is ["check", var file])
{
    var history = HistoryRecorder.Read(file);
    var report = HistoryChecker.Check(history);
    Console.WriteLine($"history {file}: {history.Count} operations");
    Console.WriteLine(report);
    return report.Valid ? 0 : report.Violations.Count > 0 ? 1 : 3;
}

Console.Error.WriteLine("usage: tcpstore-jepsen check HISTORY.jsonl");
return 2;
