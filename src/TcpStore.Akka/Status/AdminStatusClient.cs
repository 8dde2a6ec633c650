using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace TcpStore.Akka.Status;

/// <summary>One store as the admin endpoint's <c>/stores</c> lists it; <paramref name="Host"/>: in cluster mode, the
/// node that hosts the store itself (its Akka address).</summary>
public sealed record StoreListing(string Name, string? Address, int Connections, int Keys, int WaitingConnections, string? Host = null);

/// <summary>
/// Reads <c>/status</c> from a running server's admin endpoint (for the <c>tcpstore status</c> command and scripts),
/// and formats it as text (<see cref="Format"/>).
/// </summary>
public sealed class AdminStatusClient(HttpClient http)
{
    /// <summary>The JSON options of <c>/status</c> (camelCase, indented).</summary>
    public static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    /// <summary>Reads the report from <paramref name="adminBase"/> (e.g. <c>http://127.0.0.1:29510/</c>).</summary>
    public async Task<StatusReport> GetStatusAsync(
        Uri adminBase, int offset = 0, int? limit = null, CancellationToken cancellationToken = default, string? store = null)
    {
        var query = $"status?offset={offset.ToString(CultureInfo.InvariantCulture)}" +
                    (limit is { } l ? $"&limit={l.ToString(CultureInfo.InvariantCulture)}" : "") +
                    (store is null ? "" : "&store=" + Uri.EscapeDataString(store));
        var report = await http.GetFromJsonAsync<StatusReport>(new Uri(adminBase, query), JsonOptions, cancellationToken);
        return report ?? throw new InvalidDataException($"{adminBase}status answered null");
    }

    /// <summary>The stores of the server (<c>/stores</c>), by name.</summary>
    public async Task<IReadOnlyList<StoreListing>> ListStoresAsync(Uri adminBase, CancellationToken cancellationToken = default) =>
        await http.GetFromJsonAsync<List<StoreListing>>(new Uri(adminBase, "stores"), JsonOptions, cancellationToken)
        ?? throw new InvalidDataException($"{adminBase}stores answered null");

    /// <summary>Creates a store (<c>POST /stores/NAME</c>; the endpoint's <c>store-management</c> must be on) and returns
    /// where it listens; throws <see cref="InvalidOperationException"/> with the server's reason when refused.</summary>
    public async Task<string> CreateStoreAsync(Uri adminBase, string name, int port = 0, CancellationToken cancellationToken = default)
    {
        using var response = await http.PostAsync(
            new Uri(adminBase, $"stores/{Uri.EscapeDataString(name)}?port={port.ToString(CultureInfo.InvariantCulture)}"), null, cancellationToken);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(JsonOptions, cancellationToken);
        if (response.IsSuccessStatusCode) return body.GetProperty("address").GetString() ?? "";
        throw new InvalidOperationException(body.TryGetProperty("error", out var error) ? error.GetString() : $"HTTP {(int)response.StatusCode}");
    }

    /// <summary>Removes a store (<c>DELETE /stores/NAME</c>); false when there is none of that name.</summary>
    public async Task<bool> RemoveStoreAsync(Uri adminBase, string name, CancellationToken cancellationToken = default)
    {
        using var response = await http.DeleteAsync(new Uri(adminBase, $"stores/{Uri.EscapeDataString(name)}"), cancellationToken);
        if (response.IsSuccessStatusCode) return true;
        if (response.StatusCode == System.Net.HttpStatusCode.NotFound) return false;
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(JsonOptions, cancellationToken);
        throw new InvalidOperationException(body.TryGetProperty("error", out var error) ? error.GetString() : $"HTTP {(int)response.StatusCode}");
    }

    /// <summary>The report as text for a terminal: the numbers, the awaited keys with their peers, the key page.</summary>
    public static string Format(StatusReport report)
    {
        var n = report.Numbers;
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"TcpStore on {report.Address ?? "(not bound)"} at {report.Time:u}\n");
        text.Append(CultureInfo.InvariantCulture,
            $"connections {n.OpenConnections} open ({n.AcceptedLastSecond}/s accepted); keys {n.Keys}; queues {n.Queues} ({n.QueueItems} items); stored {n.StoredBytes} B\n");
        text.Append(CultureInfo.InvariantCulture,
            $"waiting: {n.WaitingConnections} connections, {n.WaiterRegistrations} registrations on {report.Awaited.Total} keys\n");
        if (report.Awaited.Items.Count > 0)
        {
            text.Append("\nAWAITED KEY\tWAITING\tPEERS\n");
            foreach (var key in report.Awaited.Items)
            {
                text.Append(CultureInfo.InvariantCulture, $"{key.Key}\t{key.Waiting}\t{string.Join(' ', key.Peers)}");
                if (key.PeersTruncated) text.Append(" …");
                text.Append('\n');
            }
        }

        if (report.Barriers.Items.Count > 0)
        {
            text.Append("\nBARRIER\tARRIVED/EXPECTED\tWAITING\tPEERS\n");
            foreach (var barrier in report.Barriers.Items)
            {
                text.Append(CultureInfo.InvariantCulture,
                    $"{barrier.Key}\t{barrier.Arrived?.ToString(CultureInfo.InvariantCulture) ?? "?"}/{barrier.Expected}\t{barrier.Waiting}\t{string.Join(' ', barrier.Peers)}");
                if (barrier.PeersTruncated) text.Append(" …");
                text.Append('\n');
            }
        }

        text.Append(CultureInfo.InvariantCulture,
            $"\nKEY ({report.Keys.Offset + 1}-{report.Keys.Offset + report.Keys.Items.Count} of {report.Keys.Total})\tBYTES\tVALUE\n");
        foreach (var key in report.Keys.Items)
            text.Append(CultureInfo.InvariantCulture, $"{key.Key}\t{key.Bytes}\t{key.Value}\n");
        if (report.Queues.Total > 0)
        {
            text.Append("\nQUEUE\tITEMS\n");
            foreach (var queue in report.Queues.Items)
                text.Append(CultureInfo.InvariantCulture, $"{queue.Name}\t{queue.Items}\n");
        }
        if (report.Errors.Count > 0)
            text.Append("\nerrors: ").AppendJoin(", ", report.Errors.Select(e => $"{e.Key} {e.Value}")).Append('\n');
        return text.ToString();
    }
}
