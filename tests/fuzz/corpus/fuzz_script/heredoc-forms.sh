cat <<EOF
--tensor-model-parallel-size 8
EOF
cat <<-"END" ; cat << \X
	--seq-length 9
	END
--pp 3
X
echo $((1<<2)) <<<"x"
(( y = 1 << 2 ))
--micro-batch-size 1
