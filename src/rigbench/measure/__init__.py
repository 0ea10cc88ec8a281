"""Pure measurement: figures from RequestRecords / stored rows, statistics, planning. No I/O."""
