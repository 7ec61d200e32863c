X=$(( (-9223372036854775807 - 1) / -1 ))
--tensor-model-parallel-size 2
