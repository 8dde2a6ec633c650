using System.Globalization;
using TcpStore.Akka.Jepsen;
using TcpStore.Akka.Jepsen.Checker;
using TcpStore.Akka.Jepsen.Harness;
using TcpStore.Akka.Jepsen.History;

// tcpstore-jepsen run [--minutes N] [--nodes N] [--seed N] [--faults KIND,KIND,...] [--dir DIR] [--keep]
//     a Jepsen-style run (as root: it creates network namespaces); exit 0 pass, 1 fail
// tcpstore-jepsen check HISTORY.jsonl
//     re-checks a kept history file; exit 0 valid, 1 invalid, 3 undecided
const string Usage = "usage: tcpstore-jepsen run [--minutes N] [--nodes N] [--seed N] [--faults KIND,...] [--dir DIR] [--keep]\n" +
                     "       tcpstore-jepsen check HISTORY.jsonl";

if (args is ["check", var file])
{
    var history = HistoryRecorder.Read(file);
    var report = HistoryChecker.Check(history);
    Console.WriteLine($"history {file}: {history.Count} operations");
    Console.WriteLine(report);
    return report.Valid ? 0 : report.Violations.Count > 0 ? 1 : 3;
}

if (args is not ["run", ..])
{
    Console.Error.WriteLine(Usage);
    return 2;
}

var options = new JepsenOptions();
for (var i = 1; i < args.Length; i++)
{
    string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value\n{Usage}");
    options = args[i] switch
    {
        "--minutes" => options with { Duration = TimeSpan.FromMinutes(double.Parse(Value(), CultureInfo.InvariantCulture)) },
        "--nodes" => options with { Nodes = int.Parse(Value(), CultureInfo.InvariantCulture) },
        "--seed" => options with { Seed = int.Parse(Value(), CultureInfo.InvariantCulture) },
        "--faults" => options with { Schedule = Value().Split(',').Select(Enum.Parse<FaultKind>).ToList() },
        "--dir" => options with { Directory = Value() },
        "--keep" => options with { KeepOnPass = true },
        _ => throw new ArgumentException($"unknown option {args[i]}\n{Usage}"),
    };
}

using var interrupted = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    // Stop the run and let it kill its processes and remove its network.
    e.Cancel = true;
    interrupted.Cancel();
};
try
{
    var result = await JepsenRun.RunAsync(options, line => Console.WriteLine(line), interrupted.Token);
    return result.Passed ? 0 : 1;
}
catch (OperationCanceledException) when (interrupted.IsCancellationRequested)
{
    Console.WriteLine("interrupted: every node process ended and the network removed; no verdict");
    return 130;
}
