using System.Net;
using TcpStore.Akka.Client;

namespace TcpStore.Akka.Samples.JobManager;

/// <summary>
/// A job's ranks meeting at its store the way torch.distributed's rendezvous does: each publishes its address, rank 0
/// publishes the job's configuration, all pass a barrier, and each reads its peers' addresses.
/// </summary>
internal static class Ranks
{
    public static async Task RendezvousAsync(IPEndPoint store, int worldSize)
    {
        await Task.WhenAll(Enumerable.Range(0, worldSize).Select(async rank =>
        {
            await using var client = await TcpStoreClient.ConnectAsync(new TcpStoreClientOptions
            {
                Host = store.Address.ToString(), Port = store.Port, Timeout = TimeSpan.FromSeconds(30),
            });
            await client.SetAsync($"rank/{rank}/addr", $"10.0.0.{rank + 1}:29400");
            if (rank == 0) await client.SetAsync("config/lr", "0.01");
            await client.BarrierAsync("start", worldSize);
            for (var peer = 0; peer < worldSize; peer++)
            {
                var address = await client.GetStringAsync($"rank/{peer}/addr");
                if (address != $"10.0.0.{peer + 1}:29400")
                    throw new InvalidOperationException($"rank {rank} read {address} for rank {peer}: another job's keys?");
            }
            if (await client.GetStringAsync("config/lr") != "0.01")
                throw new InvalidOperationException($"rank {rank} read another job's configuration");
        }));
    }
}
